"""Syntax tree → the JSON W&B's ``filters`` argument takes.

Pure: no I/O, no state. Keys become server keys (``config.k.value``,
``summary_metrics.k``, camelCase run fields); datetimes become naive-UTC ISO strings
(W&B's own format); ``$all`` is sent as ``$and`` of memberships and ``$not`` as
``$nor`` (W&B documents neither). A node the server cannot evaluate raises
:class:`~wandb_frames.errors.UnsupportedFilterError` with ``backend="server"``; use
:func:`wandb_frames.filters.split` to send only the part the server can run.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import nodes
from wandb_frames.filters.parse import parse_filter
from wandb_frames.filters.visitor import Visitor

__all__ = ["server_value", "to_mongo", "to_server", "to_server_json"]


def server_value(value: Any) -> Any:
    """A normalised operand as JSON-able data (datetimes as naive-UTC ISO strings)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, tuple):
        return [server_value(v) for v in value]
    if isinstance(value, nodes.Doc):
        return {k: server_value(v) for k, v in value.items}
    return value


class _ServerCompiler(Visitor[dict[str, Any]]):
    backend = "server"

    def __init__(self, *, full_mongo: bool = False) -> None:
        self.full_mongo = full_mongo

    def visit_And(self, node: nodes.And) -> dict[str, Any]:
        if not node.children:
            return {}
        return {"$and": [self.visit(c) for c in node.children]}

    def visit_Or(self, node: nodes.Or) -> dict[str, Any]:
        return {"$or": [self.visit(c) for c in node.children]}

    def visit_Nor(self, node: nodes.Nor) -> dict[str, Any]:
        return {"$nor": [self.visit(c) for c in node.children]}

    def visit_Not(self, node: nodes.Not) -> dict[str, Any]:
        return {"$nor": [self.visit(node.child)]}

    def _key(self, node: nodes.FieldPredicate) -> str:
        if node.key.server is None:
            raise UnsupportedFilterError(
                f"the W&B server cannot filter on {node.key.column!r}; apply it locally "
                "(wandb_frames.filters.split does this for api.runs)",
                operator=node.op,
                backend="server",
                path=node.pointer,
            )
        return node.key.server

    def _op(self, node: nodes.FieldPredicate) -> dict[str, Any]:
        return {self._key(node): {node.op: server_value(node.value)}}

    def visit_Eq(self, node: nodes.Eq) -> dict[str, Any]:
        if isinstance(node.value, tuple | nodes.Doc) or (
            isinstance(node.value, float) and math.isnan(node.value)
        ):
            return self._op(node)
        return {self._key(node): server_value(node.value)}

    visit_Ne = _op
    visit_Gt = _op
    visit_Gte = _op
    visit_Lt = _op
    visit_Lte = _op
    visit_In = _op
    visit_Nin = _op
    visit_Exists = _op

    def visit_All(self, node: nodes.All) -> dict[str, Any]:
        key = self._key(node)
        parts = [{key: server_value(v)} for v in node.value]
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def visit_Size(self, node: nodes.Size) -> dict[str, Any]:
        if not self.full_mongo:
            raise UnsupportedFilterError(
                "$size is not supported by W&B's server; it is evaluated locally",
                operator="$size",
                backend="server",
                path=node.pointer,
            )
        return self._op(node)

    def visit_Regex(self, node: nodes.Regex) -> dict[str, Any]:
        if node.options and self.full_mongo:
            return {self._key(node): {"$regex": node.value, "$options": node.options}}
        if node.options:
            raise UnsupportedFilterError(
                f"$options {node.options!r} is not sent to W&B; it is evaluated locally",
                operator="$options",
                backend="server",
                path=node.pointer,
            )
        return self._op(node)


_COMPILER = _ServerCompiler()
_MONGO = _ServerCompiler(full_mongo=True)


def to_server(f: Any) -> dict[str, Any]:
    """Compile a filter to the JSON for W&B's ``filters`` argument.

    ``f`` is a parsed filter, or anything :func:`~wandb_frames.filters.parse_filter` takes
    (``{}`` for no filter).

    Raises:
        FilterSyntaxError: ``f`` is not a valid filter.
        UnsupportedFilterError: a part the server cannot evaluate (``$size``, ``$options``,
            a local-only key); ``split`` separates those parts.

    Examples:
        >>> from wandb_frames.filters import parse_filter
        >>> to_server(parse_filter({"summary.loss": {"$lt": 0.1}, "created_at": {"$gt": "2024-01-01"}}))
        {'$and': [{'summary_metrics.loss': {'$lt': 0.1}}, {'createdAt': {'$gt': '2024-01-01T00:00:00'}}]}
    """
    tree = parse_filter(f)
    return {} if tree is None else _COMPILER.visit(tree)


def to_mongo(f: Any) -> dict[str, Any]:
    """Like :func:`to_server`, but also emitting ``$size`` and ``$options`` (for MongoDB engines
    such as mongomock, which the tests use as the reference)."""
    tree = parse_filter(f)
    return {} if tree is None else _MONGO.visit(tree)


def to_server_json(f: Any) -> str:
    """``json.dumps`` of :func:`to_server` for the ``filters`` GraphQL variable (``"{}"`` for None)."""
    return json.dumps(to_server(f), allow_nan=True, separators=(",", ":"))
