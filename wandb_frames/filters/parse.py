"""Mongo-style filter JSON → syntax tree, validated, with JSON-pointer errors.

Every problem raises :class:`~wandb_frames.errors.FilterSyntaxError` (or
:class:`~wandb_frames.errors.UnsupportedFilterError` for valid MongoDB operators no
backend evaluates) whose ``path`` is the JSON pointer of the offending part and
whose message suggests the fix. Nothing here raises anything else, whatever JSON
it is given.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from wandb_frames.errors import FilterSyntaxError, UnsupportedFilterError
from wandb_frames.filters import nodes
from wandb_frames.filters.keys import resolve_key
from wandb_frames.filters.operators import (
    FIELD_OPERATORS,
    LOGICAL_OPERATORS,
    OPERATORS_BY_NAME,
    RECOGNISED_UNSUPPORTED,
)

__all__ = ["TRUE", "conjoin", "normalize_value", "parse_filter", "pointer_join"]

#: The filter that matches every run (an empty ``$and``).
TRUE = nodes.And(())
_REGEX_OPTIONS = frozenset("ims")
_COMPARISONS = {"$gt", "$gte", "$lt", "$lte"}


def pointer_join(pointer: str, part: str | int) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    token = str(part).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def conjoin(children: list[nodes.Filter], pointer: str = "") -> nodes.Filter:
    """``And`` of children, flattening nested ``And`` and dropping always-true parts."""
    flat: list[nodes.Filter] = []
    for child in children:
        if isinstance(child, nodes.And):
            flat.extend(child.children)
        else:
            flat.append(child)
    if len(flat) == 1:
        return flat[0]
    return nodes.And(tuple(flat), pointer=pointer)


def parse_filter(spec: Any) -> nodes.Filter | None:
    """Parse a filter: Mongo JSON (a mapping), a Python expression (a string), or a node.

    Args:
        spec: ``{"config.lr": {"$gt": 1e-3}}``, ``"config.lr > 1e-3"``, a parsed filter, or None.

    Returns:
        The syntax tree, or None for "no filter" (None or ``{}``).

    Raises:
        FilterSyntaxError: the filter is malformed; ``path`` points at the offending part.
        UnsupportedFilterError: a valid MongoDB operator no backend evaluates (``$elemMatch``).

    Examples:
        >>> parse_filter({"tags": "baseline"}) == parse_filter("'baseline' in tags")
        True
    """
    if spec is None:
        return None
    if isinstance(spec, nodes.Filter):
        return spec
    if isinstance(spec, str):
        from wandb_frames.filters.expr import parse_expression

        return parse_expression(spec)
    if not isinstance(spec, Mapping):
        raise FilterSyntaxError(
            f"a filter must be a JSON object (dict) or an expression string, not {type(spec).__name__}",
            path="",
            filter=spec,
        )
    node = _Parser(spec).document(spec, "")
    return None if node == TRUE else node


class _Parser:
    def __init__(self, root: Any) -> None:
        self.root = root

    def error(self, message: str, pointer: str) -> FilterSyntaxError:
        return FilterSyntaxError(message, path=pointer, filter=self.root)

    def document(self, doc: Mapping[Any, Any], pointer: str) -> nodes.Filter:
        parts: list[nodes.Filter] = []
        for key, value in doc.items():
            if not isinstance(key, str):
                raise self.error(f"filter keys must be strings, not {key!r}", pointer)
            where = pointer_join(pointer, key)
            if key.startswith("$"):
                parts.append(self.top_operator(key, value, where))
            else:
                parts.append(self.field(key, value, where))
        return conjoin(parts, pointer)

    def top_operator(self, op: str, value: Any, pointer: str) -> nodes.Filter:
        if op in LOGICAL_OPERATORS:
            if not isinstance(value, list | tuple) or not value:
                raise self.error(f"{op} needs a non-empty array of filters, e.g. {{{op!r}: [{{...}}, {{...}}]}}", pointer)
            children: list[nodes.Filter] = []
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise self.error(f"each element of {op} must be a filter object", pointer_join(pointer, i))
                children.append(self.document(item, pointer_join(pointer, i)))
            if op == "$and":
                return conjoin(children, pointer)
            cls = nodes.Or if op == "$or" else nodes.Nor
            return cls(tuple(children), pointer=pointer)
        if op == "$not":
            if not isinstance(value, Mapping) or not value:
                raise self.error('top-level $not needs a filter object, e.g. {"$not": {"state": "crashed"}}', pointer)
            return nodes.Not(self.document(value, pointer), pointer=pointer)
        self.unknown_operator(op, pointer)
        if op in FIELD_OPERATORS:
            raise self.error(
                f"{op} must be used under a key, e.g. {{\"config.lr\": {{{op!r}: ...}}}}", pointer
            )
        raise self.error(f"unknown operator {op}", pointer)  # pragma: no cover - unknown_operator raised

    def unknown_operator(self, op: str, pointer: str) -> None:
        if op in RECOGNISED_UNSUPPORTED:
            hint = RECOGNISED_UNSUPPORTED[op]
            raise UnsupportedFilterError(
                f"{op} is valid MongoDB but not supported by wandb-frames" + (f"; {hint}" if hint else ""),
                operator=op,
                backend="server",
                path=pointer,
                filter=self.root,
            )
        if op not in OPERATORS_BY_NAME:
            close = difflib.get_close_matches(op, list(OPERATORS_BY_NAME), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {' '.join(OPERATORS_BY_NAME)}"
            raise self.error(f"unknown operator {op}{hint}", pointer)

    def field(self, key: str, value: Any, pointer: str) -> nodes.Filter:
        resolved = resolve_key(key, pointer=pointer, filter=self.root)
        if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
            if not all(isinstance(k, str) and k.startswith("$") for k in value):
                raise self.error(
                    f"the value of {key!r} mixes operators and plain keys; "
                    "use either {\"$op\": ...} or a plain object to compare with",
                    pointer,
                )
            return self.operators(resolved, value, pointer)
        if isinstance(value, list | tuple) and resolved.kind == "tags":
            raise self.error(
                "a bare list as the value of `tags` is rejected by W&B (HTTP 500); "
                'use {"tags": {"$in": [...]}} for any of them or {"tags": {"$all": [...]}} for all',
                pointer,
            )
        return nodes.Eq(resolved, self.value(resolved, value, pointer), pointer=pointer)

    def operators(self, key: nodes.Key, ops: Mapping[str, Any], pointer: str) -> nodes.Filter:
        parts: list[nodes.Filter] = []
        if "$options" in ops and "$regex" not in ops:
            raise self.error("$options needs a $regex next to it", pointer_join(pointer, "$options"))
        for op, operand in ops.items():
            where = pointer_join(pointer, op)
            if op == "$options":
                continue
            self.unknown_operator(op, where)
            if op in LOGICAL_OPERATORS:
                raise self.error(f"{op} cannot be used under a key; put the key inside each branch", where)
            if op == "$not":
                if not isinstance(operand, Mapping) or not operand or not all(
                    isinstance(k, str) and k.startswith("$") for k in operand
                ):
                    raise self.error(
                        '$not under a key needs an operator object, e.g. {"$not": {"$gt": 1}} '
                        'or {"$not": {"$regex": "^a"}}',
                        where,
                    )
                parts.append(nodes.Not(self.operators(key, operand, where), pointer=where))
            elif op == "$regex":
                parts.append(self.regex(key, operand, ops.get("$options", ""), where, pointer))
            else:
                parts.append(self.operator(key, op, operand, where))
        return conjoin(parts, pointer)

    def operator(self, key: nodes.Key, op: str, operand: Any, where: str) -> nodes.Filter:
        cls: Any = OPERATORS_BY_NAME[op].node
        if op == "$exists":
            if not isinstance(operand, bool):
                raise self.error("$exists needs true or false", where)
            return nodes.Exists(key, operand, pointer=where)
        if op == "$size":
            if isinstance(operand, bool) or not isinstance(operand, int) or operand < 0:
                raise self.error("$size needs a non-negative integer", where)
            return nodes.Size(key, operand, pointer=where)
        if op in ("$in", "$nin", "$all"):
            if not isinstance(operand, list | tuple):
                raise self.error(f"{op} needs an array, e.g. {{{op!r}: [{operand!r}]}}", where)
            if op == "$all" and not operand:
                raise self.error("$all needs at least one value (an empty $all matches nothing)", where)
            values = tuple(self.value(key, v, pointer_join(where, i)) for i, v in enumerate(operand))
            if key.kind == "tags" and any(isinstance(v, tuple) for v in values):
                raise self.error("tags are strings; nested lists never match", where)
            return cls(key, values, pointer=where)  # type: ignore[no-any-return]
        value = self.value(key, operand, where)
        if op in _COMPARISONS and value is None:
            raise self.error(
                f"{op} with null is ambiguous (null vs missing); use {{key: null}} or $exists", where
            )
        if key.kind == "tags" and isinstance(value, tuple):
            raise self.error(
                'compare tags one at a time: {"tags": "x"}, {"tags": {"$in": [...]}} or {"tags": {"$all": [...]}}',
                where,
            )
        return cls(key, value, pointer=where)  # type: ignore[no-any-return]

    def regex(self, key: nodes.Key, pattern: Any, options: Any, where: str, pointer: str) -> nodes.Filter:
        if not isinstance(pattern, str):
            raise self.error("$regex needs a pattern string (RE2 syntax)", where)
        if not isinstance(options, str) or not set(options) <= _REGEX_OPTIONS:
            raise self.error("$options takes letters from 'ims' (RE2 has no 'x')", pointer_join(pointer, "$options"))
        check_regex(pattern, where, self.root)
        return nodes.Regex(key, pattern, pointer=where, options="".join(sorted(set(options))))

    def value(self, key: nodes.Key, value: Any, pointer: str) -> Any:
        try:
            if key.kind == "date":
                return _date_value(value, pointer, self.root)
            return normalize_value(value)
        except (TypeError, ValueError) as exc:
            raise self.error(f"{exc}", pointer) from exc


def check_regex(pattern: str, pointer: str, root: Any) -> None:
    """Raise FilterSyntaxError unless ``pattern`` compiles as RE2 (pyarrow's regex engine)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise FilterSyntaxError(
            f"invalid regular expression {pattern!r} (W&B uses RE2 syntax: no look-around or "
            f"back-references): {exc}",
            path=pointer,
            filter=root,
        ) from exc


def normalize_value(value: Any) -> Any:
    """Normalise an operand: tuples for arrays, Doc for objects, one NaN, UTC datetimes.

    Raises:
        TypeError: a value that is not JSON-like.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return nodes.NAN if math.isnan(number) else number
    if isinstance(value, datetime):
        # A datetime compared with a non-date key is sent to the server as an ISO string.
        return _as_utc(value).replace(tzinfo=None).isoformat()
    if isinstance(value, list | tuple):
        return tuple(normalize_value(v) for v in value)
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings, not {k!r}")
            if k.startswith("$"):
                raise TypeError(f"operator {k} inside a value object; move it up next to the key")
            items.append((k, normalize_value(v)))
        return nodes.Doc(tuple(items))
    raise TypeError(f"unsupported value {value!r} of type {type(value).__name__} (use JSON values)")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date_value(value: Any, pointer: str, root: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(_date_value(v, pointer, root) for v in value)
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, str):
        try:
            return _as_utc(datetime.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an ISO-8601 date; write e.g. '2024-05-01' or '2024-05-01T12:00:00Z'"
            ) from exc
    raise ValueError(
        f"dates are compared with ISO strings or datetimes, not {type(value).__name__} {value!r}"
    )
