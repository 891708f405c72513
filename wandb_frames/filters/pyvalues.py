"""Mongo predicate rules on one decoded value (used for JSON-text cells, once per unique value).

``None`` stands for null *and* missing (the runs frame cannot tell them apart).
Type bracketing: a comparison only holds between values of one bracket (numbers,
strings, bools, …); arrays match when any element does; NaN equals NaN (MongoDB).
Regexes are not evaluated here: the caller passes the set of strings that match
(computed with pyarrow's RE2, the engine the typed columns use).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection
from typing import Any

from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import nodes

__all__ = ["match_value", "strings_in"]

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return nodes.kind_of(value)


def _same(a: Any, c: Any) -> bool:
    """Equality of one (non-array-expanded) value with an operand, within a type bracket."""
    if _kind(a) != nodes.kind_of(c):
        return False
    if isinstance(a, float) and isinstance(c, float) and math.isnan(a) and math.isnan(c):
        return True
    return bool(a == c)


def _eq(value: Any, c: Any) -> bool:
    if c is None:
        return value is None or (isinstance(value, list) and any(v is None for v in value))
    if isinstance(value, list):
        return any(_same(v, c) for v in value)
    return _same(value, c)


def _cmp(op: str, value: Any, c: Any) -> bool:
    if isinstance(value, list):
        return any(_cmp(op, v, c) for v in value)
    if value is None or _kind(value) != nodes.kind_of(c) or _kind(value) in ("object", "array"):
        return False
    return _CMP[op](value, c)


def strings_in(value: Any) -> list[str]:
    """The strings a regex is tried on: the value itself, or an array's string elements."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def match_value(node: nodes.FieldPredicate, value: Any, regex_hits: Collection[str] = ()) -> bool:
    """Whether one decoded value satisfies a field predicate.

    Args:
        node: the predicate.
        value: the decoded JSON value (None for null or missing).
        regex_hits: for a Regex node, the strings that match its pattern.

    Raises:
        UnsupportedFilterError: an array or object operand (whole-array or object equality).
    """
    op = node.op
    if op == "$exists":
        return (value is not None) == bool(node.value)
    if op == "$size":
        return isinstance(value, list) and len(value) == node.value
    if op == "$regex":
        return any(s in regex_hits for s in strings_in(value))
    if op in ("$ne", "$nin"):
        positive = nodes.Eq if op == "$ne" else nodes.In
        return not match_value(positive(node.key, node.value), value)
    if op == "$in":
        return any(_eq(value, c) for c in node.value)
    if op == "$all":
        return all(_eq(value, c) for c in node.value)
    if op == "$eq":
        return _eq(value, node.value)
    if op in _CMP:
        return _cmp(op, value, node.value)
    raise UnsupportedFilterError(  # pragma: no cover - every field operator is handled above
        f"{op} is not supported on JSON-text columns", operator=op, backend="arrow", path=node.pointer
    )
