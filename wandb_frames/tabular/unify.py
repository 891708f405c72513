"""One schema for tables assembled apart (partitions, dataset files): the same rule as one table.

:class:`~wandb_frames.tabular.frames.TableAssembler` folds each page's column kinds with
:func:`~wandb_frames.tabular.schema.merge_kinds`; tables built separately (one per batch of
runs, on different workers) are brought to one schema by the same rule, read back from their
Arrow fields: :func:`unify_schemas` gives the schema that one table of all their rows would
have had (same column order, same widening, JSON-text columns with their metadata), and
:func:`conform_table` converts one table to it (missing columns are null).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from wandb_frames.errors import SchemaError
from wandb_frames.tabular.columns import conform_chunk
from wandb_frames.tabular.schema import (
    JSON_ENCODING_KEY,
    JSON_KINDS,
    RUN_COLUMN_KINDS,
    RUN_COLUMNS,
    field_for,
    merge_kinds,
)

__all__ = ["conform_table", "field_kind", "unify_schemas"]

_GROUPS = ("config", "summary", "system", "metadata")


def field_kind(field: pa.Field) -> str:
    """The column kind an Arrow field of a runs table stores (see :mod:`~wandb_frames.tabular.schema`).

    Raises:
        SchemaError: The field's type is none of the runs frame's types.
    """
    t = field.type
    if field.metadata is not None and field.metadata.get(JSON_ENCODING_KEY) == b"json":
        return "mixed"
    for kind in ("null", "bool", "int", "float", "str", "ts"):
        if t == field_for("x", kind).type:
            return kind
    if pa.types.is_list(t):
        for elem in ("null", "bool", "int", "float", "str"):
            if t.value_type == field_for("x", elem).type:
                return f"list:{elem}"
    raise SchemaError(f"column {field.name!r} has type {t}, which no runs-frame column has")


def _ordered(names: Iterable[str], sep: str) -> list[str]:
    groups: dict[str, list[str]] = {group: [] for group in _GROUPS}
    others: list[str] = []
    present = list(names)
    for name in present:
        if name in RUN_COLUMN_KINDS:
            continue
        for group in _GROUPS:
            if name.startswith(group + sep):
                groups[group].append(name)
                break
        else:
            others.append(name)
    ordered = [name for name in RUN_COLUMNS if name in present]
    for group in _GROUPS:
        ordered.extend(groups[group])
    return ordered + others


def unify_schemas(schemas: Iterable[pa.Schema], *, sep: str = ".") -> pa.Schema:
    """The schema one table of all these tables' rows would have (``TableAssembler``'s rule).

    Columns in order of first appearance within their group (run columns, ``config``,
    ``summary``, ``system``, ``metadata``, others); kinds folded with ``merge_kinds``;
    a column of two kinds that share no type becomes JSON text (with its field metadata).

    Examples:
        >>> a = pa.schema([("id", pa.string()), ("config.lr", pa.int64())])
        >>> b = pa.schema([("id", pa.string()), ("config.lr", pa.float64()), ("summary.x", pa.bool_())])
        >>> unify_schemas([a, b]).types
        [DataType(string), DataType(double), DataType(bool)]
    """
    kinds: dict[str, str] = {}
    for schema in schemas:
        for field in schema:
            kind = field_kind(field)
            previous = kinds.get(field.name)
            kinds[field.name] = kind if previous is None else merge_kinds(previous, kind)
    return pa.schema([field_for(name, kinds[name]) for name in _ordered(kinds, sep)])


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` converted to ``schema`` (a :func:`unify_schemas` result covering it).

    Columns of ``schema`` the table lacks are null; each column is widened as
    ``TableAssembler.finish`` widens a page (ints to float, anything to JSON text).

    Raises:
        SchemaError: The table has a column ``schema`` lacks, or one whose kind ``schema``
            cannot hold (e.g. a string column where ``schema`` says int).
    """
    extra = [name for name in table.column_names if schema.get_field_index(name) < 0]
    if extra:
        raise SchemaError(
            f"column(s) {extra[:10]} are not in the expected schema; pass meta=<schema> or "
            "meta='scan' to to_dask(), or name the columns with columns=..."
        )
    arrays: list[pa.ChunkedArray] = []
    for field in schema:
        final = field_kind(field)
        if table.schema.get_field_index(field.name) < 0:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)], type=field.type))
            continue
        column = table.column(field.name)
        kind = field_kind(table.schema.field(field.name))
        merged = merge_kinds(kind, final)
        if merged != final and not (merged in JSON_KINDS and final in JSON_KINDS):
            raise SchemaError(
                f"column {field.name!r} holds {kind} values but the expected schema says "
                f"{field.type}; pass meta=<schema> or meta='scan' to to_dask()"
            )
        chunks = [conform_chunk(chunk, kind, final)[0] for chunk in column.chunks]
        arrays.append(pa.chunked_array(chunks, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
