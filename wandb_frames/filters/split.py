"""Split a filter into the part W&B's server can run and the rest, evaluated locally.

The filter is read as a conjunction. Each conjunct that the server fully supports
(every operator and every key, per :func:`.operators.supports`) goes to the server;
every other conjunct is kept whole for the local backend. A ``$or``/``$nor``/``$not``
with one unsupported part is therefore never sent weakened: the server result is a
superset of the answer and the local part makes it exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wandb_frames.filters import nodes
from wandb_frames.filters.operators import OPERATORS_BY_NAME, supports
from wandb_frames.filters.parse import parse_filter
from wandb_frames.filters.nodes import conjoin

__all__ = ["FilterPlan", "split"]


@dataclass(frozen=True, slots=True)
class FilterPlan:
    """Where each part of a filter runs.

    Attributes:
        server: the part sent as W&B's ``filters`` (None: fetch everything).
        local: the part applied to the fetched runs (None: nothing left to do).
        notes: one human-readable line per conjunct kept local, saying why.
    """

    server: nodes.Filter | None
    local: nodes.Filter | None
    notes: tuple[str, ...] = ()


def _unsupported(node: nodes.Filter) -> str | None:
    """Why the server cannot run ``node`` (first reason found), or None."""
    if isinstance(node, nodes.Logical):
        for child in node.children:
            reason = _unsupported(child)
            if reason:
                return reason
        return None
    if isinstance(node, nodes.Not):
        return _unsupported(node.child)
    if isinstance(node, nodes.FieldPredicate) and not supports("server", node):
        if node.key.server is None:
            return f"the key {node.key.column!r} is not reachable by W&B's filters"
        if isinstance(node, nodes.Regex) and node.options:
            return f"$options {node.options!r} (regex flags) are not sent to W&B"
        return f"{node.op} is not supported by W&B's server ({OPERATORS_BY_NAME[node.op].doc})"
    return None


def _where(node: nodes.Filter) -> str:
    pointer = getattr(node, "pointer", "")
    return f" at {pointer}" if pointer else ""


def split(f: Any) -> FilterPlan:
    """Split ``f`` into a server part and a local part whose conjunction is ``f``.

    ``f`` is a parsed filter, or anything :func:`~wandb_frames.filters.parse_filter` takes.

    Raises:
        FilterError: ``f`` is not a valid filter.

    Examples:
        >>> from wandb_frames.filters import parse_filter
        >>> plan = split(parse_filter({"state": "finished", "tags": {"$size": 2}}))
        >>> plan.server == parse_filter({"state": "finished"}), plan.local == parse_filter({"tags": {"$size": 2}})
        (True, True)
    """
    f = parse_filter(f)
    if f is None:
        return FilterPlan(None, None, ())
    conjuncts = list(f.children) if isinstance(f, nodes.And) else [f]
    server: list[nodes.Filter] = []
    local: list[nodes.Filter] = []
    notes: list[str] = []
    for part in conjuncts:
        reason = _unsupported(part)
        if reason is None:
            server.append(part)
        else:
            local.append(part)
            notes.append(f"evaluated locally{_where(part)}: {reason}")
    return FilterPlan(
        conjoin(server) if server else None,
        conjoin(local) if local else None,
        tuple(notes),
    )
