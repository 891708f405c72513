"""Fast, zero-copy melting of step-ordered wide tables into the long frame (pure).

The common case of a history fetch is a parquet export whose ``_step`` column has no nulls and
is strictly increasing: no two rows share a step, so the last-write-wins rule has nothing to
do, and each metric's points are already in step order. Then the long table is just, per
metric (sorted by name), the wide table's ``_step``/``_timestamp``/``_runtime`` columns and the
metric column itself, with the rows where the metric is null filtered out. A dense metric costs
no copy at all (its chunks are the wide table's own arrays, shared between metrics); a sparse
one costs one filter per column.

:func:`melt_sorted` recognises that case (``None`` otherwise, and the caller falls back to
:func:`~wandb_frames.history.frames.wide_to_long`); :func:`assemble` concatenates the melted
parts of one run (e.g. the parquet export, then the live tail) when their step ranges are
ordered and disjoint, so again no deduplication is needed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.history.long_schema import (
    LONG_SCHEMA,
    METRIC_TYPE,
    empty_long,
    flatten_structs,
    numeric_metric_columns,
)

__all__ = ["Melted", "Series", "assemble", "melt_sorted"]


@dataclass(frozen=True)
class Series:
    """One metric's points in one part, in strictly increasing step order.

    Attributes:
        step: ``int64``, no nulls.
        value: ``float64``, no nulls (NaN and ±inf kept).
        timestamp: ``float64`` (null where the row had none).
        runtime: ``float64`` (null where the row had none).
    """

    step: pa.Array
    value: pa.Array
    timestamp: pa.Array
    runtime: pa.Array


@dataclass
class Melted:
    """A wide table melted by :func:`melt_sorted`.

    Attributes:
        series: metric name → its points.
        skipped: metric name → count of non-numeric values left out.
        first_step: Smallest step (``None`` for a table without rows).
        last_step: Largest step (``None`` for a table without rows).
    """

    series: dict[str, Series]
    skipped: dict[str, int] = field(default_factory=dict)
    first_step: int | None = None
    last_step: int | None = None


def _single(col: pa.ChunkedArray) -> pa.Array:
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _float(col: pa.Array) -> pa.Array:
    return col if col.type == pa.float64() else pc.cast(col, pa.float64())


def melt_sorted(wide: pa.Table, *, keys: Sequence[str] | None = None) -> Melted | None:
    """Melt a wide table whose ``_step`` has no nulls and strictly increases; else ``None``.

    Follows the rules of :func:`~wandb_frames.history.frames.wide_to_long` (numeric columns
    only, non-numeric values counted in ``skipped``, ``_wandb`` dropped, ``keys`` as "any of"),
    without copying dense columns. Struct columns are flattened with ``.``.

    Args:
        wide: One row per logged row (a parquet export or :func:`rows_to_wide` output).
        keys: Keep only these metrics.

    Returns:
        The melted table, or ``None`` when the fast path does not apply (the caller must then
        use the general, deduplicating path).
    """
    wide = flatten_structs(wide)
    if "_step" not in wide.column_names:
        return None
    step = _single(wide.column("_step"))
    if step.null_count or not pa.types.is_integer(step.type):
        return None
    if step.type != pa.int64():
        try:
            step = pc.cast(step, pa.int64())
        except pa.ArrowInvalid:  # a uint64 step beyond int64: leave it to the general path
            return None
    n = len(step)
    steps = step.to_numpy(zero_copy_only=False)
    if n > 1 and not bool(np.all(steps[1:] > steps[:-1])):
        return None
    ts = _float(_single(wide.column("_timestamp"))) if "_timestamp" in wide.column_names else pa.nulls(n, pa.float64())
    rt = _float(_single(wide.column("_runtime"))) if "_runtime" in wide.column_names else pa.nulls(n, pa.float64())
    out = Melted({}, {}, int(steps[0]) if n else None, int(steps[-1]) if n else None)
    for name, col in numeric_metric_columns(wide, keys, out.skipped):
        value = _float(_single(col))
        if value.null_count == 0:
            out.series[name] = Series(step, value, ts, rt)
        elif value.null_count < n:
            mask = value.is_valid()
            out.series[name] = Series(step.filter(mask), value.filter(mask), ts.filter(mask), rt.filter(mask))
    return out


def assemble(run_id: str, parts: Sequence[Melted]) -> pa.Table | None:
    """Concatenate one run's melted parts into a long table, or ``None`` if steps overlap.

    The parts must be in write order; they are joined without deduplication only when each
    part's steps all come after the previous parts' (otherwise ``None``: use the deduplicating
    path). Rows are ordered by metric name, then ``_step``.

    Args:
        run_id: The run all rows belong to.
        parts: Melted parts, in write order.

    Returns:
        A table in :data:`~wandb_frames.history.frames.LONG_SCHEMA` (chunked per metric and
        part, sharing buffers with the parts), or ``None``.
    """
    last: int | None = None
    for part in parts:
        if part.first_step is None or not part.series:
            continue
        if last is not None and part.first_step <= last:
            return None
        last = part.last_step
    names = sorted({name for part in parts for name in part.series})
    chunks = [(code, s) for code, name in enumerate(names) for part in parts
              if (s := part.series.get(name)) is not None and len(s.value)]
    if not chunks:
        return empty_long()
    lengths = [len(s.value) for _, s in chunks]
    offsets = [0, *itertools.accumulate(lengths)]
    codes = np.empty(offsets[-1], dtype=np.int32)
    for (code, _), lo, hi in zip(chunks, offsets, offsets[1:], strict=False):
        codes[lo:hi] = code  # a fill per chunk: much faster than np.repeat
    metric = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names, pa.string()), safe=False)
    run = pa.repeat(pa.scalar(run_id, pa.string()), max(lengths))
    columns = [
        [run.slice(0, k) for k in lengths],
        [s.step for _, s in chunks],
        [metric.slice(o, k) for o, k in zip(offsets, lengths, strict=False)],
        [s.value for _, s in chunks],
        [s.timestamp for _, s in chunks],
        [s.runtime for _, s in chunks],
    ]
    arrays = [pa.chunked_array(c, type=f.type) for c, f in zip(columns, LONG_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=LONG_SCHEMA)
