"""One page of one column: Python values → an Arrow array and its kind; later, conform it.

The fast path looks at the set of Python types in the column (``set(map(type, values))``,
done in C) and converts with an explicit Arrow type, so Arrow never guesses (it would turn
``[1.5, True]`` into ``[1.5, 1.0]`` and dicts into structs). Only columns whose type set is
not one of the simple cases take the per-value path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, Final

import pyarrow as pa

from wandb_frames.tabular.decode import json_text
from wandb_frames.tabular.schema import JSON_KINDS, arrow_type, merge_kinds

__all__ = ["column_to_arrow", "conform_chunk", "json_array"]

_NONE: Final = type(None)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_SIMPLE_KINDS: Final[dict[type, str]] = {bool: "bool", int: "int", float: "float", str: "str"}
_SCALAR_KINDS: Final[frozenset[str]] = frozenset({"null", "bool", "int", "float", "str"})
_ARROW_ERRORS: Final = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)

Converted = tuple[pa.Array, str, bool]
"""(array, kind, precision_lost): precision_lost means an int beyond ±2**53 became a float."""


def json_array(values: Sequence[Any]) -> pa.Array:
    """Return a string array of each non-null value's JSON text (nulls stay null)."""
    try:
        return pa.array([None if v is None else json_text(v) for v in values], pa.string())
    except UnicodeEncodeError:  # lone surrogates: escape them so UTF-8 can hold the text
        return pa.array([None if v is None else json_text(v, ascii_only=True) for v in values], pa.string())


def _as_floats(values: Sequence[Any]) -> list[Any]:
    return [v if v is None or type(v) is float else float(v) for v in values]


def _outside_int64(values: Iterable[Any]) -> bool:
    return any(type(v) is int and not _INT64_MIN <= v <= _INT64_MAX for v in values)


def _float_column(values: Sequence[Any]) -> Converted:
    try:
        return pa.array(values, pa.float64()), "float", False
    except pa.ArrowInvalid:  # an int beyond ±2**53: Arrow refuses to round it silently
        if _outside_int64(values):
            return _general(values)  # integers outside int64 make the column JSON text
        return pa.array(_as_floats(values), pa.float64()), "float", True


def _float_list_column(values: Sequence[Any]) -> Converted:
    kind = "list:float"
    try:
        return pa.array(values, arrow_type(kind)), kind, False
    except pa.ArrowInvalid:
        if _outside_int64(chain.from_iterable(filter(None, values))):
            return _general(values)
        rounded = [None if v is None else _as_floats(v) for v in values]
        return pa.array(rounded, arrow_type(kind)), kind, True


def _list_column(values: Sequence[Any]) -> Converted:
    elem_types = set(map(type, chain.from_iterable(filter(None, values))))
    elem_types.discard(_NONE)
    if not elem_types:
        kind = "list:null"
    elif len(elem_types) == 1 and (elem := _SIMPLE_KINDS.get(next(iter(elem_types)))) is not None:
        kind = f"list:{elem}"
    elif elem_types == {int, float}:
        return _float_list_column(values)
    else:
        return _general(values)
    return pa.array(values, arrow_type(kind)), kind, False


def _list_kind(value: Sequence[Any]) -> str:
    elem = "null"
    for item in value:
        kind = _value_kind(item)
        if kind not in _SCALAR_KINDS:
            return "jlist"
        if kind != elem and elem != "null" and kind != "null":
            if {kind, elem} != {"int", "float"}:
                return "jlist"
            kind = "float"
        if kind != "null":
            elem = kind
    return f"list:{elem}"


def _value_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64_MIN <= value <= _INT64_MAX else "mixed"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "ts"
    if isinstance(value, Mapping):
        return "jdict"
    if isinstance(value, list | tuple):
        return _list_kind(value)
    return "mixed"


def _general(values: Sequence[Any]) -> Converted:
    """The per-value path: classify every value, merge the kinds, convert once."""
    kind = "null"
    for value in values:
        kind = merge_kinds(kind, _value_kind(value))
    if kind in JSON_KINDS:
        return json_array(values), kind, False
    if kind == "float":
        return _float_column(values)
    if kind == "list:float":
        return _float_list_column(values)
    try:
        return pa.array(values, arrow_type(kind)), kind, False
    except _ARROW_ERRORS:  # e.g. a str subclass Arrow cannot encode: keep it, as JSON text
        return json_array(values), "mixed", False


def column_to_arrow(values: Sequence[Any]) -> Converted:
    """Convert one page of one column to Arrow with an explicit type.

    Args:
        values: The column's values, one per row (``None`` for null or missing).

    Returns:
        ``(array, kind, precision_lost)``.
    """
    types = set(map(type, values))
    types.discard(_NONE)
    if not types:
        return pa.nulls(len(values)), "null", False
    if len(types) == 1:
        only = next(iter(types))
        try:
            if only is float:
                return pa.array(values, pa.float64()), "float", False
            if only is str:
                return pa.array(values, pa.string()), "str", False
            if only is int:
                return pa.array(values, pa.int64()), "int", False
            if only is bool:
                return pa.array(values, pa.bool_()), "bool", False
            if only is dict:
                return json_array(values), "jdict", False
            if only is list:
                return _list_column(values)
            if only is datetime:
                return pa.array(values, arrow_type("ts")), "ts", False
        except _ARROW_ERRORS:
            pass  # out-of-range ints, lone surrogates: the per-value path decides
    elif types == {int, float}:
        try:
            return _float_column(values)
        except OverflowError:
            pass
    return _general(values)


def conform_chunk(chunk: pa.Array, kind: str, final: str) -> tuple[pa.Array, bool]:
    """Convert a page's chunk of ``kind`` to the column's ``final`` kind.

    Args:
        chunk: The page's array.
        kind: The kind it was converted with.
        final: The column's kind across all pages.

    Returns:
        ``(array, precision_lost)``.
    """
    if kind == final or (kind in JSON_KINDS and final in JSON_KINDS):
        return chunk, False
    if kind == "null":
        return pa.nulls(len(chunk), arrow_type(final)), False
    if final in JSON_KINDS:
        if kind in ("int", "bool"):
            return chunk.cast(pa.string()), False  # their Arrow text is their JSON text
        return json_array(chunk.to_pylist()), False
    target = arrow_type(final)
    try:
        return chunk.cast(target), False
    except pa.ArrowInvalid:  # int64 beyond ±2**53 into float64
        return chunk.cast(target, safe=False), True
