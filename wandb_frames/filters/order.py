"""``order``: ``"+summary_metrics.loss"``, ``"-created_at"`` → the server string and a local sort.

The local sort follows MongoDB's order, which the W&B server documents by example:
ascending puts missing/null first, then NaN, then numbers, strings, objects, arrays,
booleans and dates (type brackets); descending is the exact reverse. It is stable
and ties are broken by the run ID (``id`` ascending), so the result is deterministic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import FilterSyntaxError, UnsupportedFilterError
from wandb_frames.filters.columns import arrow_kind, is_json_field
from wandb_frames.filters.keys import RUN_FIELDS, resolve_key
from wandb_frames.filters.values import check_text, safe_repr

__all__ = ["Order", "order_to_server", "parse_order", "sort_table"]

_ORDER_KEYS = {f.column: f.order_key or f.server for f in RUN_FIELDS}
_BRACKETS = {"null": 0, "nan": 1, "number": 2, "string": 3, "object": 4, "array": 5, "bool": 6, "date": 7}


@dataclass(frozen=True, slots=True)
class Order:
    """A parsed order.

    Attributes:
        column: the runs-frame column (``summary.loss``).
        server_key: the key in W&B's ``order`` string (``summary_metrics.loss``), or None when
            the server cannot sort on it.
        descending: True for ``-``.
    """

    column: str
    server_key: str | None
    descending: bool = False


def parse_order(spec: str | Order) -> Order:
    """Parse ``"+key"``/``"-key"``/``"key"`` (ascending) with the filter key aliases.

    Raises:
        FilterSyntaxError: an empty order or an unknown key (with a suggestion).

    Examples:
        >>> parse_order("-summary_metrics.loss")
        Order(column='summary.loss', server_key='summary_metrics.loss', descending=True)
    """
    if isinstance(spec, Order):
        return spec
    if not isinstance(spec, str) or not spec.strip("+- "):
        raise FilterSyntaxError(f"order must be a string like '-created_at', not {safe_repr(spec)}", filter=spec)
    try:
        check_text(spec, "order")
    except ValueError as exc:
        raise FilterSyntaxError(str(exc), filter=spec) from None
    text = spec.strip()
    descending = text.startswith("-")
    key = text[1:] if text[:1] in "+-" else text
    resolved = resolve_key(key, filter=spec)
    server = _ORDER_KEYS.get(resolved.column, resolved.server) if resolved.server else None
    return Order(resolved.column, server, descending)


def order_to_server(o: Order) -> str:
    """The ``order`` string W&B documents: ``+created_at``, ``-summary_metrics.loss``, ``+config.lr.value``.

    Raises:
        UnsupportedFilterError: the server cannot sort on this key.
    """
    if o.server_key is None:
        raise UnsupportedFilterError(
            f"the W&B server cannot order by {o.column!r}; sort locally with sort_table",
            operator="order",
            backend="server",
        )
    return ("-" if o.descending else "+") + o.server_key


def _json_rank(text: str) -> tuple[int, Any]:
    value = json.loads(text)
    if isinstance(value, bool):
        return (_BRACKETS["bool"], value)
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return (_BRACKETS["nan"], 0)
        return (_BRACKETS["number"], value)
    if isinstance(value, str):
        return (_BRACKETS["string"], value)
    if value is None:
        return (_BRACKETS["null"], 0)
    kind = "array" if isinstance(value, list) else "object"
    return (_BRACKETS[kind], json.dumps(value, sort_keys=True))


def _sort_keys(column: pa.ChunkedArray, field: pa.Field) -> list[pa.Array]:
    """Integer sort keys (ascending) reproducing the Mongo order of one column."""
    arr = column.combine_chunks()
    if is_json_field(field):
        encoded = pc.dictionary_encode(arr)
        texts: list[str] = encoded.dictionary.to_pylist()
        ranked = sorted(range(len(texts)), key=lambda i: _json_rank(texts[i]))
        dense = np.empty(len(texts), dtype=np.int64)
        previous: tuple[int, Any] | None = None
        level = 0
        for i in ranked:
            key = _json_rank(texts[i])
            if previous is not None and key != previous:
                level += 1
            dense[i] = level + 1
            previous = key
        return [pc.coalesce(pc.take(pa.array(dense), encoded.indices), 0)]
    kind = arrow_kind(field.type)
    if kind in ("list", "other"):
        raise UnsupportedFilterError(
            f"cannot order by {field.name!r} ({field.type}) locally", operator="order", backend="arrow"
        )
    rank = pc.if_else(pc.is_valid(arr), 2, 0)
    if pa.types.is_floating(field.type):
        rank = pc.if_else(pc.coalesce(pc.is_nan(arr), False), 1, rank)
    return [rank, arr]


def sort_table(table: pa.Table, o: Order | str) -> pa.Table:
    """Sort a runs table like the server: Mongo order, stable, ties broken by ``id``.

    Raises:
        UnsupportedFilterError: the column cannot be ordered (a list column such as ``tags``).
    """
    o = parse_order(o)
    direction = "descending" if o.descending else "ascending"
    keys: dict[str, pa.Array] = {}
    if o.column in table.column_names:
        field = table.schema.field(o.column)
        for i, key in enumerate(_sort_keys(table.column(o.column), field)):
            keys[f"k{i}"] = key
    sort_by = [(name, direction) for name in keys]
    if "id" in table.column_names:
        keys["id"] = table.column("id").combine_chunks()
        sort_by.append(("id", "ascending"))
    if not sort_by:
        return table
    indices = pc.sort_indices(pa.table(keys), sort_keys=sort_by)
    return table.take(indices)
