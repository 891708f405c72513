"""A Python-expression front end for notebooks, parsed with ``ast`` (never ``eval``).

``"config.lr > 1e-3 and state == 'finished' and 'baseline' in tags"`` builds the same
tree as the equivalent Mongo JSON. Supported: ``and``/``or``/``not``, parentheses,
``== != < <= > >=`` (chained: ``0.1 < config.lr <= 1``; ``<`` stays ``<``), ``in``/``not in``
(``'x' in tags`` is membership, ``state in ['a', 'b']`` is ``$in``), ``is None``/``is not
None``, and keys as dotted names or subscripts (``summary['eval/loss']``). Literals:
numbers, strings, ``True``/``False``/``None``, lists/tuples of those.
Errors are FilterSyntaxError with the column of the offending part.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from wandb_frames.errors import FilterSyntaxError
from wandb_frames.filters import nodes
from wandb_frames.filters.keys import escape_segment, resolve_key
from wandb_frames.filters.nodes import conjoin
from wandb_frames.filters.values import MAX_DEPTH, check_regex, check_text, operand_value, too_deep

__all__ = ["parse_expression"]

_FLIP = {ast.Lt: nodes.Gt, ast.LtE: nodes.Gte, ast.Gt: nodes.Lt, ast.GtE: nodes.Lte}
_DIRECT: dict[type[ast.cmpop], type[nodes.FieldPredicate]] = {
    ast.Eq: nodes.Eq,
    ast.NotEq: nodes.Ne,
    ast.Lt: nodes.Lt,
    ast.LtE: nodes.Lte,
    ast.Gt: nodes.Gt,
    ast.GtE: nodes.Gte,
}
_NOT_A_LITERAL = object()


class _Expr:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, node: ast.AST | None = None, col: int | None = None) -> FilterSyntaxError:
        column = col if col is not None else getattr(node, "col_offset", 0)
        caret = " " * column + "^"
        err = FilterSyntaxError(
            f"{message} (column {column + 1}){_hints(self.text)}\n  {self.text}\n  {caret}", path="",
            filter=self.text,
        )
        err.column = column + 1  # type: ignore[attr-defined]
        return err

    def parse(self) -> nodes.Filter:
        try:
            check_text(self.text, "expression")
        except ValueError as exc:
            raise FilterSyntaxError(str(exc), path="", filter=self.text) from None
        if "\n" in self.text.strip():
            raise self.error("an expression filter is one line")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            indent = len(self.text) - len(self.text.lstrip())
            # offset 0: the expression ended too early; point just past its end
            col = (exc.offset - 1) if exc.offset else len(self.text.rstrip())
            raise self.error(f"invalid expression: {exc.msg}", col=indent + col) from None
        except (ValueError, RecursionError, MemoryError):
            # CPython's own parser gives up on very deep nesting (and on NUL bytes in 3.11)
            raise self.error(f"invalid expression: {too_deep('it')} or not parseable", col=0) from None
        return self.boolean(tree.body, 1)

    def boolean(self, node: ast.expr, depth: int) -> nodes.Filter:
        if depth > MAX_DEPTH:
            raise self.error(too_deep("the expression"), node)
        if isinstance(node, ast.BoolOp):
            children = [self.boolean(v, depth + 1) for v in node.values]
            if isinstance(node.op, ast.And):
                return conjoin(children)
            return nodes.Or(tuple(children))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return nodes.Not(self.boolean(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if self.key_name(node) is not None:
            raise self.error("a key alone is not a condition; compare it, e.g. `key == True`", node)
        raise self.error(f"expected a condition, got {type(node).__name__}", node)

    def compare(self, node: ast.Compare) -> nodes.Filter:
        parts: list[nodes.Filter] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(self.pair(left, op, right))
            left = right
        return conjoin(parts)

    def pair(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> nodes.Filter:
        lkey, rkey = self.key_name(left), self.key_name(right)
        if isinstance(op, ast.In | ast.NotIn):
            negate = isinstance(op, ast.NotIn)
            if rkey is not None and lkey is None:  # 'x' in tags
                key = self.key(rkey, right)
                value = self.value(left, key)
                cls: type[nodes.FieldPredicate] = nodes.Ne if negate else nodes.Eq
                return cls(key, value)
            if lkey is not None:  # state in ['a', 'b']
                key = self.key(lkey, left)
                values = self.value(right, key)
                if not isinstance(values, tuple):
                    raise self.error("`in` needs a list or tuple on the right, e.g. state in ['a', 'b']", right)
                return (nodes.Nin if negate else nodes.In)(key, values)
            raise self.error("`in` needs a key on one side", left)
        if isinstance(op, ast.Is | ast.IsNot):
            if lkey is None or not (isinstance(right, ast.Constant) and right.value is None):
                raise self.error("`is` is only for `key is None` / `key is not None`", right)
            return (nodes.Ne if isinstance(op, ast.IsNot) else nodes.Eq)(self.key(lkey, left), None)
        if lkey is not None and rkey is None:
            key = self.key(lkey, left)
            return self.check(_DIRECT[type(op)](key, self.value(right, key)), right)
        if rkey is not None and lkey is None:
            key = self.key(rkey, right)
            flipped = _FLIP.get(type(op), _DIRECT[type(op)])
            return self.check(flipped(key, self.value(left, key)), left)
        if lkey is None:
            raise self.error("a comparison needs a key on one side (e.g. config.lr)", left)
        self.key(lkey, left)
        if rkey is not None and not _is_key(rkey):
            raise self.error(
                f"expected a literal value; `{rkey}` is not a known key (quote strings: '{rkey}')", right
            )
        raise self.error("comparing two keys is not supported; compare a key with a value", right)

    def check(self, pred: nodes.FieldPredicate, where: ast.expr) -> nodes.FieldPredicate:
        if pred.op in ("$gt", "$gte", "$lt", "$lte") and pred.value is None:
            raise self.error("ordering comparisons with None are ambiguous; use `is None`", where)
        if pred.key.kind == "tags" and isinstance(pred.value, tuple):
            raise self.error("compare tags one at a time: `'x' in tags`", where)
        return pred

    def call(self, node: ast.Call) -> nodes.Filter:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "matches" and len(node.args) == 1 and not node.keywords:
            name = self.key_name(func.value)
            arg = node.args[0]
            if name is not None and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                try:
                    check_regex(arg.value, "", self.text)
                except FilterSyntaxError as exc:
                    raise self.error(exc.message, arg) from exc
                return nodes.Regex(self.key(name, func.value), arg.value)
        raise self.error("the only call supported is `key.matches('regex')`", node)

    def key_name(self, node: ast.expr) -> str | None:
        """``config.a["b.c"]`` → ``config.a.b\\.c`` (None: not a key); walked without recursion."""
        segments: list[str] = []
        while True:
            if isinstance(node, ast.Name):
                if node.id in ("inf", "nan"):
                    return None
                segments.append(node.id)
                return ".".join(reversed(segments))
            if isinstance(node, ast.Attribute):
                segments.append(node.attr)
                node = node.value
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                segments.append(escape_segment(node.slice.value))
                node = node.value
            else:
                return None

    def key(self, name: str, node: ast.expr) -> nodes.Key:
        try:
            return resolve_key(name, filter=self.text)
        except FilterSyntaxError as exc:
            raise self.error(exc.message, node) from exc

    def value(self, node: ast.expr, key: nodes.Key) -> Any:
        literal = self.literal(node, 0)
        if literal is _NOT_A_LITERAL:
            raise self.error("expected a literal value (number, string, True/False/None, list)", node)
        try:
            return operand_value(key, literal, "", self.text)
        except FilterSyntaxError as exc:
            raise self.error(exc.message, node) from None

    def literal(self, node: ast.expr, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.error(too_deep("this value"), node)
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool | int | float | str)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.literal(node.operand, depth + 1)
            if isinstance(inner, int | float) and not isinstance(inner, bool):
                return -inner if isinstance(node.op, ast.USub) else inner
            return _NOT_A_LITERAL
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.literal(e, depth + 1) for e in node.elts]
            return _NOT_A_LITERAL if any(i is _NOT_A_LITERAL for i in items) else items
        if isinstance(node, ast.Name) and node.id in ("inf", "nan"):
            return float(node.id)
        return _NOT_A_LITERAL


_SLASHED = re.compile(r"\b(config|summary|summary_metrics|system)\.([\w.\-]*/[\w./\-]*)")
_BITWISE = re.compile(r"""("[^"]*"|'[^']*')|([&|])""")


def _hints(text: str) -> str:
    """Suggestions for the usual slips: ``/`` in a bare key name, ``&``/``|`` for ``and``/``or``."""
    hints = []
    slashed = _SLASHED.search(text)
    if slashed:
        hints.append(f"a name with '/' must be quoted: {slashed.group(1)}['{slashed.group(2)}']")
    operators = {m.group(2) for m in _BITWISE.finditer(text) if m.group(2)}
    if operators:
        words = " / ".join(f"`{'and' if op == '&' else 'or'}` instead of `{op}`" for op in sorted(operators))
        hints.append(f"use {words}")
    return "".join(f"; {hint}" for hint in hints)


def _is_key(name: str) -> bool:
    try:
        resolve_key(name)
    except FilterSyntaxError:
        return False
    return True


def parse_expression(text: str) -> nodes.Filter:
    """Parse a Python-expression filter into the syntax tree.

    Raises:
        FilterSyntaxError: unsupported syntax or an unknown key; the message shows the column.

    Examples:
        >>> from wandb_frames.filters import to_server
        >>> to_server(parse_expression("config.lr > 1e-3 and 'baseline' in tags"))
        {'$and': [{'config.lr.value': {'$gt': 0.001}}, {'tags': 'baseline'}]}
    """
    return _Expr(text).parse()

