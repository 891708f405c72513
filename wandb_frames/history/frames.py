"""Pure conversions between history rows, wide tables and the long history frame.

No I/O here. The shapes:

* **rows**: what W&B's ``history``/``events`` fields return, one ``dict`` per logged row
  (``{"_step": 3, "_timestamp": 1.7e9, "_runtime": 4.2, "loss": 0.1, ...}``).
* **wide**: one Arrow row per logged row (or per ``(run_id, _step)`` after :func:`long_to_wide`),
  one column per metric. Parquet history exports are already wide.
* **long**: :data:`LONG_SCHEMA`, one row per ``(run_id, _step, metric)`` that has a numeric value.

Rules (also in ``docs/history.md``):

* Duplicates: when a step repeats (a resumed run re-logs it), the **last write wins per
  ``(run_id, _step, metric)``**: a later row overwrites the metrics it carries and leaves the
  others as they were. "Later" means later in the server's row order (parquet export first,
  then the live tail).
* Numeric values are ints, floats (NaN and ±inf kept as floats) and bools (``1.0``/``0.0``).
  Strings, lists and media dicts (dicts with ``_type``) are not put in ``value``; they are
  counted per metric in ``skipped``. Plain nested dicts are flattened with ``.``
  (``{"a": {"b": 1}}`` → metric ``a.b``), as pyarrow flattens struct columns.
* ``_step``, ``_timestamp``, ``_runtime`` are row columns, never metrics; ``_wandb`` is dropped.
* Long rows are ordered by run (first appearance), then metric name, then ``_step``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import ProtocolError, SchemaError
from wandb_frames.history.melt import assemble, melt_sorted
from wandb_frames.history.long_schema import (
    DROPPED_PREFIXES,
    INDEX_COLUMNS,
    LONG_SCHEMA,
    METRIC_TYPE,
    LongPart,
    empty_long,
    flatten_structs,
    is_metric_name,
    is_numeric_type,
    numeric_metric_columns,
)

__all__ = [
    "INDEX_COLUMNS",
    "LONG_SCHEMA",
    "METRIC_TYPE",
    "LongPart",
    "decode_rows",
    "dedup_long",
    "empty_long",
    "flatten_structs",
    "is_metric_name",
    "is_numeric_type",
    "numeric_metric_columns",
    "long_to_wide",
    "rows_to_wide",
    "wide_to_long",
]

_NO_STEP = "<rows without _step>"

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]



def decode_rows(texts: Sequence[str]) -> list[dict[str, Any]]:
    """Decode W&B's JSON-string history rows; ``NaN``/``Infinity`` literals are accepted.

    Args:
        texts: One JSON object text per row, as the ``history``/``events`` fields return.

    Returns:
        The decoded rows, in order.

    Raises:
        ProtocolError: A row is not JSON even with W&B's extensions.
    """
    import orjson

    if not texts:
        return []
    try:
        decoded = orjson.loads("[" + ",".join(texts) + "]")
    except orjson.JSONDecodeError:
        # Python's json accepts the NaN / Infinity / -Infinity literals W&B writes and, with
        # strict=False, raw control characters inside strings (as the official client does).
        decoded = []
        for i, text in enumerate(texts):
            try:
                decoded.append(json.loads(text, strict=False))
            except (TypeError, ValueError) as exc:
                raise ProtocolError(f"history row {i} is not JSON: {exc}") from exc
    return [r for r in decoded if isinstance(r, dict)]


def _flatten_into(out: dict[str, Any], prefix: str, value: Mapping[str, Any]) -> None:
    for k, v in value.items():
        name = f"{prefix}.{k}"
        if isinstance(v, dict) and "_type" not in v:
            _flatten_into(out, name, v)
        else:
            out[name] = v


def rows_to_wide(rows: Iterable[Mapping[str, Any]]) -> tuple[pa.Table, dict[str, int]]:
    """Columnize history rows into a wide table of float64 metric columns.

    Args:
        rows: Decoded history rows, in the server's order.

    Returns:
        ``(table, skipped)``: ``table`` has ``_step`` (int64), ``_timestamp``, ``_runtime``
        (float64) and one float64 column per numeric metric (null where a row lacks it);
        ``skipped`` counts non-numeric values per metric.
    """
    cols: dict[str, tuple[list[int], list[float]]] = {}
    skipped: dict[str, int] = {}
    n = 0
    for i, row in enumerate(rows):
        n = i + 1
        flat: Mapping[str, Any] = row
        if any(isinstance(v, dict) for v in row.values()):
            tmp: dict[str, Any] = {}
            for k, v in row.items():
                if isinstance(v, dict) and "_type" not in v:
                    _flatten_into(tmp, k, v)
                else:
                    tmp[k] = v
            flat = tmp
        for k, v in flat.items():
            if v is None or k.startswith(DROPPED_PREFIXES):
                continue
            if isinstance(v, (int, float)):  # bool is an int
                entry = cols.get(k)
                if entry is None:
                    entry = cols[k] = ([], [])
                entry[0].append(i)
                entry[1].append(float(v))
            else:
                skipped[k] = skipped.get(k, 0) + 1
    arrays: dict[str, pa.Array] = {}
    for name in ("_step", "_timestamp", "_runtime"):
        arrays[name] = _scatter(cols.pop(name, ([], [])), n, pa.int64() if name == "_step" else None)
    for name in sorted(cols):
        arrays[name] = _scatter(cols[name], n, None)
    for name in INDEX_COLUMNS:
        skipped.pop(name, None)
    return pa.table(arrays), skipped


def _scatter(entry: tuple[list[int], list[float]], n: int, as_type: pa.DataType | None) -> pa.Array:
    idx = np.asarray(entry[0], dtype=np.int64)
    vals = np.zeros(n)
    vals[idx] = np.asarray(entry[1], dtype=np.float64)
    mask = np.ones(n, dtype=bool)
    mask[idx] = False
    if as_type == pa.int64():
        return pa.array(vals.astype(np.int64), mask=mask, type=pa.int64())
    return pa.array(vals, mask=mask, type=pa.float64())




def _float_column(col: pa.ChunkedArray | pa.Array, n: int) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Return ``(values with nulls as NaN, validity)`` of a numeric column."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_null(col.type):
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    arr = pc.cast(col, pa.float64()) if col.type != pa.float64() else col
    valid = (
        np.ones(n, dtype=bool)
        if arr.null_count == 0
        else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    vals = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return vals, valid


def _step_column(table: pa.Table, n: int) -> tuple[I64, npt.NDArray[np.bool_]]:
    if "_step" not in table.column_names:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    vals, valid = _float_column(table.column("_step"), n)
    return np.where(valid, vals, 0.0).astype(np.int64), valid


def _last_wins_order(run: I64, step: I64) -> I64:
    """Indices keeping the last occurrence per ``(run, step)``, sorted by ``(run, step)``."""
    n = len(step)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    dr = np.diff(run)
    if bool(np.all((dr > 0) | ((dr == 0) & (np.diff(step) > 0)))):
        return np.arange(n, dtype=np.int64)
    pos = np.arange(n, dtype=np.int64)
    order = np.lexsort((-pos, step, run))
    r, s = run[order], step[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (s[1:] != s[:-1])
    return np.asarray(order[first], dtype=np.int64)


def wide_to_long(
    wide: pa.Table,
    *,
    run_id: str | None = None,
    keys: Sequence[str] | None = None,
    dedup: bool = True,
) -> LongPart:
    """Melt a wide table (rows or parquet export) into the long frame.

    Args:
        wide: One row per logged row. Struct columns are flattened with ``.``. It must have a
            ``run_id`` column unless ``run_id`` is given.
        run_id: The run all rows belong to.
        keys: Keep only these metrics (any of them, per row: never the all-keys rule).
        dedup: Apply the last-write-wins rule per ``(run_id, _step, metric)`` and drop rows
            without ``_step``. ``False`` (system metrics) keeps every row in order, ``_step`` null.

    Returns:
        A :class:`LongPart` in :data:`LONG_SCHEMA`.
    """
    wide = flatten_structs(wide)
    if run_id is not None and dedup:
        melted = melt_sorted(wide, keys=keys)
        if melted is not None:
            table = assemble(run_id, [melted])
            if table is not None:
                return LongPart(table, melted.skipped)
    n = wide.num_rows
    if run_id is None:
        if "run_id" not in wide.column_names:
            raise SchemaError("wide_to_long needs a run_id column or the run_id argument", column="run_id")
        enc = pc.dictionary_encode(wide.column("run_id").combine_chunks())
        run_codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        run_names: pa.Array = enc.dictionary
    else:
        run_codes = np.zeros(n, dtype=np.int64)
        run_names = pa.array([run_id], pa.string())
    step, step_valid = _step_column(wide, n)
    ts = _float_column(wide.column("_timestamp"), n) if "_timestamp" in wide.column_names else None
    rt = _float_column(wide.column("_runtime"), n) if "_runtime" in wide.column_names else None
    skipped: dict[str, int] = {}
    metrics: list[tuple[str, F64, npt.NDArray[np.bool_]]] = []
    for name, col in numeric_metric_columns(wide, keys, skipped):
        vals, valid = _float_column(col, n)
        metrics.append((name, vals, valid))
    metrics.sort(key=lambda m: m[0])
    if dedup and not step_valid.all():
        skipped[_NO_STEP] = int((~step_valid).sum())
    parts_idx: list[I64] = []
    parts_code: list[npt.NDArray[np.int32]] = []
    parts_val: list[F64] = []
    for code, (_name, vals, valid) in enumerate(metrics):
        sel = valid & step_valid if dedup else valid
        idx = np.flatnonzero(sel).astype(np.int64)
        if dedup:
            idx = idx[_last_wins_order(run_codes[idx], step[idx])]
        parts_idx.append(idx)
        parts_code.append(np.full(len(idx), code, dtype=np.int32))
        parts_val.append(vals[idx])
    if not parts_idx:
        return LongPart(empty_long(), skipped)
    idx = np.concatenate(parts_idx)
    codes = np.concatenate(parts_code)
    values = np.concatenate(parts_val)
    if run_id is None and len(run_names) > 1:
        order = np.lexsort((step[idx], codes, run_codes[idx]))
        idx, codes, values = idx[order], codes[order], values[order]
    table = _assemble(
        run_names.take(pa.array(run_codes[idx])) if run_id is None else pa.repeat(run_id, len(idx)),
        pa.array(step[idx], mask=~step_valid[idx]),
        pa.DictionaryArray.from_arrays(pa.array(codes), pa.array([m[0] for m in metrics], pa.string())),
        values,
        None if ts is None else pa.array(ts[0][idx], mask=~ts[1][idx]),
        None if rt is None else pa.array(rt[0][idx], mask=~rt[1][idx]),
    )
    return LongPart(table, skipped)


def _assemble(
    run: pa.Array, step: pa.Array, metric: pa.Array, value: F64, ts: pa.Array | None, rt: pa.Array | None
) -> pa.Table:
    m = len(value)
    return pa.Table.from_arrays(
        [
            run.cast(pa.string()) if run.type != pa.string() else run,
            step,
            metric,
            pa.array(value, type=pa.float64()),
            ts if ts is not None else pa.nulls(m, pa.float64()),
            rt if rt is not None else pa.nulls(m, pa.float64()),
        ],
        schema=LONG_SCHEMA,
    )


def dedup_long(long: pa.Table) -> pa.Table:
    """Apply last-write-wins per ``(run_id, _step, metric)`` to concatenated long parts.

    Row order is write order (e.g. parquet part first, live tail after). The result is in the
    canonical order: run (first appearance), metric name, ``_step``. Rows with a null ``_step``
    (system metrics) are all kept.

    Args:
        long: A table with the :data:`LONG_SCHEMA` columns.

    Returns:
        The deduplicated table, same schema.
    """
    n = long.num_rows
    if n == 0:
        return long
    run = pc.dictionary_encode(long.column("run_id").combine_chunks())
    r = np.asarray(run.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    metric = long.column("metric").combine_chunks()
    if pa.types.is_dictionary(metric.type):
        metric = metric.cast(pa.string())
    menc = pc.dictionary_encode(metric)
    names = menc.dictionary.to_pylist()
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object))] = np.arange(len(names))
    m = rank[np.asarray(menc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    step, valid = _step_column(long, n)
    pos = np.arange(n, dtype=np.int64)
    order = np.lexsort((np.where(valid, -pos, pos), step, ~valid, m, r))
    keep = np.ones(n, dtype=bool)
    rs, ms, ss, vs = r[order], m[order], step[order], valid[order]
    keep[1:] = (rs[1:] != rs[:-1]) | (ms[1:] != ms[:-1]) | (ss[1:] != ss[:-1]) | ~vs[1:] | ~vs[:-1]
    out = long.take(pa.array(order[keep]))
    return out.set_column(2, LONG_SCHEMA.field("metric"), out.column("metric").cast(pa.string()).dictionary_encode().cast(METRIC_TYPE)) if out.num_rows else out


def long_to_wide(long: pa.Table, *, index: str = "_step") -> pa.Table:
    """Pivot a long table to ``run_id, <index>, _timestamp|_step, _runtime, <metric>…``.

    The join rule is an **outer join by step**: every ``(run_id, index)`` present for any metric
    gives one row; a metric missing at that step is null (never a dropped row). NaN stays NaN.
    ``_timestamp`` and ``_runtime`` of a wide row are the largest of its long rows (the latest
    write). Metric columns are sorted by name; rows by run (first appearance), then ``index``.

    Args:
        long: A table with the :data:`LONG_SCHEMA` columns (extra columns are ignored).
        index: ``"_step"`` (training history) or ``"_timestamp"`` (system metrics).

    Returns:
        The wide table.
    """
    n = long.num_rows
    enc = pc.dictionary_encode(long.column("run_id").combine_chunks()) if n else pa.array([], pa.string()).dictionary_encode()
    run_codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    metric_col = long.column("metric")
    if pa.types.is_dictionary(metric_col.type):
        metric_col = metric_col.cast(pa.string())
    menc = pc.dictionary_encode(metric_col.combine_chunks())
    mcodes = np.asarray(menc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    names = menc.dictionary.to_pylist()
    value, vvalid = _float_column(long.column("value"), n)
    ts, tsv = _float_column(long.column("_timestamp"), n)
    rt, rtv = _float_column(long.column("_runtime"), n)
    if index == "_step":
        key, key_valid = _step_column(long, n)
        keyf: npt.NDArray[Any] = key
    else:
        keyf, key_valid = _float_column(long.column(index), n)
    order = np.lexsort((keyf, ~key_valid, run_codes))
    r_s, k_s, kv_s = run_codes[order], keyf[order], key_valid[order]
    new = np.ones(n, dtype=bool)
    if n:
        new[1:] = (r_s[1:] != r_s[:-1]) | (k_s[1:] != k_s[:-1]) | (kv_s[1:] != kv_s[:-1]) | ~kv_s[1:]
    gid_sorted = np.cumsum(new) - 1
    g = int(gid_sorted[-1]) + 1 if n else 0
    gid = np.empty(n, dtype=np.int64)
    gid[order] = gid_sorted
    starts = np.flatnonzero(new)
    cols: dict[str, pa.Array] = {
        "run_id": enc.dictionary.take(pa.array(r_s[starts])) if n else pa.array([], pa.string()),
    }
    if index == "_step":
        cols["_step"] = pa.array(k_s[starts].astype(np.int64), mask=~kv_s[starts], type=pa.int64())
    else:
        cols[index] = pa.array(k_s[starts], mask=~kv_s[starts], type=pa.float64())
    for name, vals, valid in (("_timestamp", ts, tsv), ("_runtime", rt, rtv)):
        if name == index:
            continue
        col = np.where(valid, vals, np.nan)[order]
        agg = np.fmax.reduceat(col, starts) if n else np.empty(0)
        cols[name] = pa.array(agg, mask=np.isnan(agg), type=pa.float64())
    by_metric = np.argsort(mcodes, kind="stable")
    bounds = np.searchsorted(mcodes[by_metric], np.arange(len(names) + 1))
    for m in sorted(range(len(names)), key=lambda i: names[i]):
        rows = by_metric[bounds[m] : bounds[m + 1]]
        out = np.full(g, np.nan)
        present = np.zeros(g, dtype=bool)
        out[gid[rows]] = value[rows]
        present[gid[rows]] = vvalid[rows]
        cols[names[m]] = pa.array(out, mask=~present, type=pa.float64())
    return pa.table(cols)

