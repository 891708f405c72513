"""Pure helpers of the runs cache: merging two runs tables, upserting rows by run ID.

Two tables that hold different runs (or different versions of the same runs) are merged
with the widening rules of :class:`~wandb_frames.tabular.TableAssembler`
(``docs/frames.md``): ``int`` + ``float`` → ``float64``, list element types merge, and
kinds that cannot share one Arrow type become JSON text (with a
:class:`~wandb_frames.errors.LossyConversionWarning`). No I/O.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import LossyConversionWarning
from wandb_frames.tabular import JSON_ENCODING_KEY, RUN_COLUMNS
from wandb_frames.tabular.columns import conform_chunk
from wandb_frames.tabular.schema import JSON_KINDS, RUN_COLUMN_KINDS, field_for, merge_kinds

__all__ = ["field_kind", "ids_digest", "merge_tables", "sort_runs", "upsert_runs"]

_JSON = "mixed"
_GROUPS = ("config", "summary", "system", "metadata")


def field_kind(field: pa.Field) -> str | None:
    """The tabular *kind* of a runs-table field (``"mixed"`` for any JSON-text column).

    Returns:
        The kind, or None for an Arrow type the runs frame never produces.
    """
    if field.metadata is not None and field.metadata.get(JSON_ENCODING_KEY) == b"json":
        return _JSON
    t = field.type
    scalar = _scalar_kind(t)
    if scalar is not None:
        return scalar
    if pa.types.is_list(t):
        elem = _scalar_kind(t.value_type)
        if elem is not None and elem != "ts":
            return f"list:{elem}"
    return None


def _scalar_kind(t: pa.DataType) -> str | None:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_int64(t):
        return "int"
    if pa.types.is_float64(t):
        return "float"
    if pa.types.is_string(t):
        return "str"
    if pa.types.is_timestamp(t):
        return "ts"
    return None


def _conform(column: pa.ChunkedArray, kind: str, final: str, field: pa.Field) -> pa.ChunkedArray:
    if kind == "null":
        return pa.chunked_array([pa.nulls(len(column), field.type)], type=field.type)
    if kind == final and column.type.equals(field.type):
        return column
    chunks = [conform_chunk(chunk, kind, final)[0] for chunk in column.chunks]
    return pa.chunked_array(chunks, type=field.type)


def _order(names: Iterable[str], sep: str) -> list[str]:
    """Run columns first (contract order), then config/summary/system/metadata, then others."""
    unique = list(dict.fromkeys(names))
    rank = {name: i for i, name in enumerate(RUN_COLUMNS)}

    def key(item: tuple[int, str]) -> tuple[int, int]:
        position, name = item
        if name in rank:
            return 0, rank[name]
        for g, group in enumerate(_GROUPS, start=1):
            if name.startswith(group + sep):
                return g, position
        return len(_GROUPS) + 1, position

    return [name for _, name in sorted(enumerate(unique), key=key)]


def merge_tables(old: pa.Table, new: pa.Table, *, sep: str = ".") -> pa.Table:
    """Concatenate two runs tables, widening column types the way ``TableAssembler`` does.

    A column that is null in every row of one side takes the other side's type. Columns
    missing from one side are null there.

    Warns:
        LossyConversionWarning: Columns that had to become JSON text in the merge.
    """
    if old.num_rows == 0 and old.num_columns == 0:
        return new
    names = _order([*old.column_names, *new.column_names], sep)
    fields: list[pa.Field] = []
    columns: list[pa.ChunkedArray] = []
    widened: list[str] = []
    new_fields = {f.name: f for f in new.schema} if new.num_rows else {}
    for name in names:
        same = new_fields.get(name)
        if same is not None and name in old.column_names and old.num_rows:
            mine = old.schema.field(name)
            if mine.equals(same, check_metadata=True) and field_kind(mine) not in (None, "null"):
                fields.append(mine)  # one type on both sides: the chunks are concatenated as they are
                columns.append(pa.chunked_array([*old.column(name).chunks, *new.column(name).chunks],
                                                type=mine.type))
                continue
        sides: list[tuple[pa.ChunkedArray, str]] = []
        for table in (old, new):
            if name not in table.column_names or table.num_rows == 0:
                sides.append((pa.chunked_array([pa.nulls(table.num_rows)]), "null"))
                continue
            column = table.column(name)
            kind = field_kind(table.schema.field(name))
            if kind is None:  # not a runs-frame type: keep its JSON text
                column = pa.chunked_array([pa.array(column.cast(pa.string()).to_pylist())])
                kind = _JSON
            if column.null_count == len(column):
                kind = "null"
            sides.append((column, kind))
        (a, ka), (b, kb) = sides
        final = merge_kinds(ka, kb)
        if final in JSON_KINDS:
            if ka not in JSON_KINDS and kb not in JSON_KINDS and "null" not in (ka, kb):
                widened.append(name)
            final = _JSON
        elif name in RUN_COLUMN_KINDS:  # the run columns' contract types, as TableAssembler
            contract = merge_kinds(final, RUN_COLUMN_KINDS[name])
            final = final if contract in JSON_KINDS else contract
        final_field = field_for(name, final)
        merged = [_conform(a, ka, final, final_field), _conform(b, kb, final, final_field)]
        fields.append(final_field)
        columns.append(pa.chunked_array([c for m in merged for c in m.chunks], type=final_field.type))
    if widened:
        warnings.warn(
            "columns holding values of different kinds across cached and fresh runs were stored "
            "as JSON text (field metadata wandb_frames.encoding=json): " + ", ".join(widened[:20]),
            LossyConversionWarning,
            stacklevel=3,
        )
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def upsert_runs(
    cached: pa.Table | None,
    fresh: pa.Table,
    *,
    drop_ids: Iterable[str] = (),
    sep: str = ".",
) -> pa.Table:
    """Replace cached rows by fresh rows with the same ``id``; add new ones; drop ``drop_ids``.

    Args:
        cached: The cached runs (None: nothing cached).
        fresh: Newly fetched runs.
        drop_ids: Cached runs to remove (deleted on the server).
        sep: The separator of nested column names.
    """
    if cached is None or cached.num_rows == 0:
        return sort_runs(fresh)
    gone = list(fresh.column("id").to_pylist() if fresh.num_rows else []) + list(drop_ids)
    stay = pc.invert(pc.is_in(cached.column("id"), value_set=pa.array(gone, pa.string())))
    if fresh.num_rows == 0:  # deletions only: the cached order holds
        return cached if pc.all(stay).as_py() is not False else cached.filter(stay)
    # One copy of the wide table: order the surviving positions by the sort keys alone,
    # then take them from the (chunk-concatenated) merge of cached and fresh rows.
    merged = merge_tables(cached, fresh, sep=sep)
    keep = pa.chunked_array([*stay.chunks, pa.array(np.ones(fresh.num_rows, dtype=bool))])
    positions = pa.array(np.arange(merged.num_rows, dtype=np.int64)).filter(keep.combine_chunks())
    keys = [c for c in ("created_at", "id") if c in merged.column_names]
    if keys:
        survivors = pa.table({k: merged.column(k) for k in keys}).take(positions)
        order = pc.sort_indices(survivors, sort_keys=[(k, "ascending", "at_start") for k in keys])
        positions = positions.take(order)
    return merged.take(positions)


def sort_runs(table: pa.Table) -> pa.Table:
    """The cache's canonical row order: ``created_at``, then ``id``."""
    keys = [(c, "ascending", "at_start") for c in ("created_at", "id") if c in table.column_names]
    return table.sort_by(keys) if keys and table.num_rows else table


def ids_digest(table: pa.Table) -> str:
    """A SHA-256 over the run IDs (and heartbeats) in row order: the cache's content check."""
    digest = hashlib.sha256()
    if "id" in table.column_names:
        ids = table.column("id").cast(pa.string()).fill_null("").to_pylist()
        digest.update("\0".join(ids).encode("utf-8", "surrogatepass"))
    if "heartbeat_at" in table.column_names:
        micros = table.column("heartbeat_at").cast(pa.int64()).fill_null(-1)
        digest.update(micros.to_numpy().tobytes())
    digest.update(str(table.num_rows).encode())
    return digest.hexdigest()
