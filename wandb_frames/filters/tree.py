"""Check a syntax tree built by hand (not by the parser) before any backend sees it.

The parser only ever builds well-formed trees; a caller may also pass nodes it built
itself (``parse_filter(nodes.Not(...))``). Such a tree is walked once, without
recursion, and refused with a FilterSyntaxError when it nests beyond
:data:`~wandb_frames.filters.values.MAX_DEPTH`, holds something that is not a node,
or carries an operand the parser would not have produced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wandb_frames.errors import FilterSyntaxError
from wandb_frames.filters import nodes
from wandb_frames.filters.operators import OPERATORS_BY_NAME
from wandb_frames.filters.values import MAX_DEPTH, check_regex, check_text, safe_repr, too_deep

__all__ = ["check_tree"]


def _operand_problem(value: Any) -> str | None:
    """Why ``value`` is not a normalised operand (None when it is one)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return too_deep("the operand")
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                return f"the integer {safe_repr(item)} is outside int64 (the parser turns it into a float)"
            continue
        if isinstance(item, float):
            continue
        if isinstance(item, str):
            try:
                check_text(item)
            except ValueError as exc:
                return str(exc)
            continue
        if isinstance(item, datetime):
            if item != item or item.tzinfo is None:
                return f"the date {safe_repr(item)} is not an aware UTC datetime (use parse_filter on JSON)"
            continue
        if isinstance(item, tuple):
            stack.extend((v, depth + 1) for v in item)
            continue
        if isinstance(item, nodes.Doc):
            stack.extend((v, depth + 1) for _, v in item.items)
            stack.extend((k, depth + 1) for k, _ in item.items)
            continue
        return f"the operand {safe_repr(item)} of type {type(item).__name__} is not a normalised value"
    return None


def _predicate_problem(node: nodes.FieldPredicate) -> str | None:
    key = node.key
    if not isinstance(key, nodes.Key) or not isinstance(key.column, str) or not (
        key.server is None or isinstance(key.server, str)
    ):
        return f"{safe_repr(key)} is not a resolved key (use keys.resolve_key)"
    value = node.value
    if isinstance(node, nodes.Exists) and not isinstance(value, bool):
        return "$exists needs true or false"
    if isinstance(node, nodes.Size) and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        return "$size needs a non-negative integer"
    if isinstance(node, nodes.Regex):
        if not isinstance(value, str) or not isinstance(node.options, str) or not set(node.options) <= set("ims"):
            return "$regex needs a pattern string and options from 'ims'"
        try:
            check_regex(value, node.pointer, None)
        except FilterSyntaxError as exc:
            return exc.message
    if isinstance(node, nodes.In | nodes.Nin | nodes.All) and not isinstance(value, tuple):
        return f"{node.op} needs a tuple of values"
    return _operand_problem(value)


def check_tree(root: nodes.Filter) -> None:
    """Raise FilterSyntaxError unless ``root`` is a well-formed tree of at most MAX_DEPTH levels."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterSyntaxError(too_deep(), filter=root)
        if not isinstance(node, nodes.Filter) or type(node).op not in OPERATORS_BY_NAME:
            raise FilterSyntaxError(
                f"{safe_repr(node)} is not a filter node (build filters with parse_filter)", filter=root
            )
        if isinstance(node, nodes.Logical):
            stack.extend((c, depth + 1) for c in node.children)
        elif isinstance(node, nodes.Not):
            stack.append((node.child, depth + 1))
        elif isinstance(node, nodes.FieldPredicate):
            problem = _predicate_problem(node)
            if problem is not None:
                raise FilterSyntaxError(problem, path=str(node.pointer), filter=root)
