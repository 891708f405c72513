"""Mongo-style filter JSON → syntax tree, validated, with JSON-pointer errors.

Every problem raises :class:`~wandb_frames.errors.FilterSyntaxError` (or
:class:`~wandb_frames.errors.UnsupportedFilterError` for valid MongoDB operators no
backend evaluates) whose ``path`` is the JSON pointer of the offending part and
whose message suggests the fix. Nothing here raises anything else, whatever JSON
it is given.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from wandb_frames.errors import FilterSyntaxError, UnsupportedFilterError
from wandb_frames.filters import nodes
from wandb_frames.filters.expr import parse_expression
from wandb_frames.filters.keys import resolve_key
from wandb_frames.filters.operators import (
    FIELD_OPERATORS,
    LOGICAL_OPERATORS,
    OPERATORS_BY_NAME,
    RECOGNISED_UNSUPPORTED,
)

from wandb_frames.filters.nodes import TRUE, conjoin
from wandb_frames.filters.tree import check_tree
from wandb_frames.filters.values import (
    MAX_DEPTH,
    check_regex,
    check_text,
    operand_value,
    pointer_join,
    safe_repr,
    too_deep,
)

__all__ = ["TRUE", "check_regex", "conjoin", "parse_filter", "pointer_join"]

_REGEX_OPTIONS = frozenset("ims")
_COMPARISONS = {"$gt", "$gte", "$lt", "$lte"}


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
        check_tree(spec)
        return spec
    if isinstance(spec, str):
        return parse_expression(spec)
    if not isinstance(spec, Mapping):
        raise FilterSyntaxError(
            f"a filter must be a JSON object (dict) or an expression string, not {type(spec).__name__}",
            path="",
            filter=spec,
        )
    node = _Parser(spec).document(spec, "", 1)
    return None if node == TRUE else node


class _Parser:
    """Recursive descent over the JSON; ``depth`` counts the objects and arrays entered."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def error(self, message: str, pointer: str) -> FilterSyntaxError:
        return FilterSyntaxError(message, path=pointer, filter=self.root)

    def enter(self, depth: int, pointer: str) -> int:
        if depth > MAX_DEPTH:
            raise self.error(too_deep(), pointer)
        return depth + 1

    def key_text(self, key: Any, pointer: str) -> str:
        if not isinstance(key, str):
            raise self.error(f"filter keys must be strings, not {safe_repr(key)}", pointer)
        try:
            check_text(key, "key")
        except ValueError as exc:
            raise self.error(str(exc), pointer) from None
        return str(key)

    def document(self, doc: Mapping[Any, Any], pointer: str, depth: int) -> nodes.Filter:
        inner = self.enter(depth, pointer)
        parts: list[nodes.Filter] = []
        for raw_key, value in doc.items():
            key = self.key_text(raw_key, pointer)
            where = pointer_join(pointer, key)
            if key.startswith("$"):
                parts.append(self.top_operator(key, value, where, inner))
            else:
                parts.append(self.field(key, value, where, inner))
        return conjoin(parts, pointer)

    def top_operator(self, op: str, value: Any, pointer: str, depth: int) -> nodes.Filter:
        if op in LOGICAL_OPERATORS:
            if not isinstance(value, list | tuple) or not value:
                raise self.error(f"{op} needs a non-empty array of filters, e.g. {{{op!r}: [{{...}}, {{...}}]}}", pointer)
            inner = self.enter(depth, pointer)
            children: list[nodes.Filter] = []
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise self.error(f"each element of {op} must be a filter object", pointer_join(pointer, i))
                children.append(self.document(item, pointer_join(pointer, i), inner))
            if op == "$and":
                return conjoin(children, pointer)
            cls = nodes.Or if op == "$or" else nodes.Nor
            return cls(tuple(children), pointer=pointer)
        if op == "$not":
            if not isinstance(value, Mapping) or not value:
                raise self.error('top-level $not needs a filter object, e.g. {"$not": {"state": "crashed"}}', pointer)
            return nodes.Not(self.document(value, pointer, depth), pointer=pointer)
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
            raise self.error(f"unknown operator {safe_repr(op)}{hint}", pointer)

    def field(self, key: str, value: Any, pointer: str, depth: int) -> nodes.Filter:
        resolved = resolve_key(key, pointer=pointer, filter=self.root)
        if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
            if not all(isinstance(k, str) and k.startswith("$") for k in value):
                raise self.error(
                    f"the value of {safe_repr(key)} mixes operators and plain keys; "
                    "use either {\"$op\": ...} or a plain object to compare with",
                    pointer,
                )
            return self.operators(resolved, value, pointer, depth)
        if isinstance(value, list | tuple) and resolved.kind == "tags":
            raise self.error(
                "a bare list as the value of `tags` is rejected by W&B (HTTP 500); "
                'use {"tags": {"$in": [...]}} for any of them or {"tags": {"$all": [...]}} for all',
                pointer,
            )
        return nodes.Eq(resolved, self.value(resolved, value, pointer, depth), pointer=pointer)

    def operators(self, key: nodes.Key, ops: Mapping[str, Any], pointer: str, depth: int) -> nodes.Filter:
        inner = self.enter(depth, pointer)
        parts: list[nodes.Filter] = []
        if "$options" in ops and "$regex" not in ops:
            raise self.error("$options needs a $regex next to it", pointer_join(pointer, "$options"))
        for raw_op, operand in ops.items():
            op = self.key_text(raw_op, pointer)
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
                parts.append(nodes.Not(self.operators(key, operand, where, inner), pointer=where))
            elif op == "$regex":
                parts.append(self.regex(key, operand, ops.get("$options", ""), where, pointer))
            else:
                parts.append(self.operator(key, op, operand, where, inner))
        return conjoin(parts, pointer)

    def operator(self, key: nodes.Key, op: str, operand: Any, where: str, depth: int) -> nodes.Filter:
        cls: Any = OPERATORS_BY_NAME[op].node
        if op == "$exists":
            if not isinstance(operand, bool):
                raise self.error("$exists needs true or false", where)
            return nodes.Exists(key, operand, pointer=where)
        if op == "$size":
            if isinstance(operand, bool) or not isinstance(operand, int) or not 0 <= operand < 2**31:
                raise self.error("$size needs a non-negative integer (below 2**31)", where)
            return nodes.Size(key, int(operand), pointer=where)
        if op in ("$in", "$nin", "$all"):
            if not isinstance(operand, list | tuple):
                raise self.error(f"{op} needs an array, e.g. {{{op!r}: [{safe_repr(operand)}]}}", where)
            if op == "$all" and not operand:
                raise self.error("$all needs at least one value (an empty $all matches nothing)", where)
            inner = self.enter(depth, where)
            values = tuple(self.value(key, v, pointer_join(where, i), inner) for i, v in enumerate(operand))
            if key.kind == "tags" and any(isinstance(v, tuple) for v in values):
                raise self.error("tags are strings; nested lists never match", where)
            return cls(key, values, pointer=where)  # type: ignore[no-any-return]
        value = self.value(key, operand, where, depth)
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
        return nodes.Regex(key, str(pattern), pointer=where, options="".join(sorted(set(options))))

    def value(self, key: nodes.Key, value: Any, pointer: str, depth: int) -> Any:
        return operand_value(key, value, pointer, self.root, depth)
