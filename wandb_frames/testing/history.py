"""History semantics of the local server: step ranges, sampling, history keys, parquet files.

- ``history(minStep, maxStep, samples)``: rows with ``minStep <= _step < maxStep`` (end-exclusive),
  then :func:`downsample` to ``samples``.
- ``sampledHistory`` spec ``{"keys", "samples", "minStep", "maxStep"}``: ``maxStep`` inclusive,
  only rows holding **all** keys, projected to those keys.
- Running runs: a step-ranged read (``history(minStep, maxStep)``, a ``sampledHistory`` spec with
  ``minStep``/``maxStep``) of a run that has both exported (parquet) and live rows serves only
  the live rows (see :func:`ranged_source` and the server docstring).
- Down-sampling is deterministic: evenly spaced indices, first and last row always kept
  (W&B's own algorithm is not public).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["downsample", "history_keys", "is_ranged", "ranged_source", "sampled_rows", "split_export", "step_range",
           "write_parquet"]

#: Rows of a ``running`` run kept out of its parquet file and served as ``liveData``.
LIVE_ROWS = 2


def split_export(rows: Sequence[Mapping[str, Any]], state: str) -> tuple[list[Mapping[str, Any]],
                                                                        list[Mapping[str, Any]]]:
    """``(exported, live)``: a ``running`` run keeps its last :data:`LIVE_ROWS` rows live."""
    n_live = min(LIVE_ROWS, len(rows)) if state == "running" else 0
    return list(rows[: len(rows) - n_live]), list(rows[len(rows) - n_live :])


def ranged_source(rows: Sequence[Mapping[str, Any]], state: str) -> list[Mapping[str, Any]]:
    """The rows a step-ranged read (``history(minStep, maxStep)``, ranged spec) draws from.

    A run with both exported and live rows answers ranged reads from its live rows only;
    any other run (fully exported, or nothing exported yet) from all of its rows.
    """
    exported, live = split_export(rows, state)
    return live if exported and live else list(rows)


def downsample(rows: Sequence[Any], samples: int | None) -> list[Any]:
    """At most ``samples`` rows, evenly spaced, keeping the first and the last."""
    n = len(rows)
    if samples is None or samples >= n:
        return list(rows)
    if samples <= 0:
        return []
    if samples == 1:
        return [rows[0]]
    return [rows[(i * (n - 1)) // (samples - 1)] for i in range(samples)]


def _step(row: Mapping[str, Any]) -> float:
    value = row.get("_step")
    return float(value) if isinstance(value, int | float) else -math.inf


def step_range(
    rows: Sequence[Mapping[str, Any]], min_step: float | None, max_step: float | None, inclusive: bool
) -> list[Mapping[str, Any]]:
    """Rows whose ``_step`` lies in ``[min_step, max_step)`` (``]`` when ``inclusive``)."""
    if min_step is None and max_step is None:
        return list(rows)
    lo = -math.inf if min_step is None else float(min_step)
    hi = math.inf if max_step is None else float(max_step)
    if inclusive:
        return [r for r in rows if lo <= _step(r) <= hi]
    return [r for r in rows if lo <= _step(r) < hi]


def is_ranged(spec: Mapping[str, Any]) -> bool:
    """Whether a ``sampledHistory`` spec bounds the steps (``minStep`` or ``maxStep``)."""
    return spec.get("minStep") is not None or spec.get("maxStep") is not None


def sampled_rows(rows: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for one ``sampledHistory`` spec (all keys present, inclusive ``maxStep``).

    Raises:
        ValueError: the spec has no ``keys`` list.
    """
    keys = spec.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("sampledHistory spec needs a list of string keys")
    unique = list(dict.fromkeys(keys))
    chosen = step_range(rows, spec.get("minStep"), spec.get("maxStep"), inclusive=True)
    out = [{k: r[k] for k in unique} for r in chosen if all(k in r for k in unique)]
    samples = spec.get("samples")
    return downsample(out, samples if isinstance(samples, int) else None)


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        kind = value.get("_type")
        return kind if isinstance(kind, str) else "map"
    return "string"


def history_keys(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"keys": {k: {"typeCounts": [{"type", "count"}]}}, "lastStep": N}`` (no lastStep if empty)."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        for key, value in row.items():
            per_key = counts.setdefault(key, {})
            name = _type_name(value)
            per_key[name] = per_key.get(name, 0) + 1
    out: dict[str, Any] = {
        "keys": {
            k: {"typeCounts": [{"type": t, "count": c} for t, c in v.items()]} for k, v in counts.items()
        }
    }
    steps = [_step(r) for r in rows if "_step" in r]
    if steps:
        out["lastStep"] = int(max(steps))
    return out


def _column(values: list[Any]) -> pa.Array:
    try:
        if any(isinstance(v, Mapping | list) for v in values):
            raise TypeError("nested values are stored as JSON text")
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())


def write_parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write history rows as one parquet file: one column per key (nested values as JSON text).

    Written beside ``path`` and renamed into place, so a reader never sees part of a file.
    """
    names = list(dict.fromkeys(k for row in rows for k in row))
    if "_step" in names:
        names.remove("_step")
        names.insert(0, "_step")
    arrays = [_column([row.get(name) for row in rows]) for name in names]
    table = pa.table(dict(zip(names, arrays, strict=True))) if names else pa.table({"_step": pa.array([], pa.int64())})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)  # atomic: a download sees no file or the whole file
    finally:
        Path(tmp).unlink(missing_ok=True)
