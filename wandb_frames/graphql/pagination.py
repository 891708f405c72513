"""A generic Relay-connection page loop; it knows nothing about runs.

Cursors are treated as opaque strings: the next page starts ``after`` the last edge's
cursor (falling back to ``pageInfo.endCursor``), and the loop stops on
``hasNextPage == false``. A connection whose parent resolves to null raises
:class:`~wandb_frames.errors.NotFoundError`; a server that promises more pages but
repeats a cursor or sends none raises :class:`~wandb_frames.errors.ProtocolError`
instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wandb_frames.errors import NotFoundError, ProtocolError
from wandb_frames.graphql.documents import Document

__all__ = ["Execute", "Page", "iter_pages", "read_page", "resolve_connection"]

Execute = Callable[[Document, Mapping[str, Any]], dict[str, Any]]
"""Sends ``document`` with ``variables`` and returns the response ``data``."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a connection.

    Attributes:
        nodes: The edges' nodes, in server order.
        end_cursor: The cursor to continue after, or None.
        has_next_page: Whether the server reports more pages.
        parent: The object holding the connection (e.g. ``project``), for sibling fields
            such as ``runCount``.
        edges: The edges as received, for edge fields beside ``node`` (e.g. an artifact's
            ``version`` in a collection).
    """

    nodes: list[dict[str, Any]]
    end_cursor: str | None
    has_next_page: bool
    parent: dict[str, Any] = field(default_factory=dict, repr=False)
    edges: list[dict[str, Any]] = field(default_factory=list, repr=False)


def _what_at(what: str | Sequence[str], depth: int) -> str:
    if isinstance(what, str):
        return what
    return what[min(depth, len(what) - 1)] if what else "object"


def resolve_connection(
    data: Mapping[str, Any],
    path: Sequence[str],
    *,
    operation: str,
    what: str | Sequence[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Walk ``path`` in ``data``; return ``(parent, connection)``.

    ``what`` names the missing object in the :class:`NotFoundError`: one name for any level,
    or one per level of ``path`` (the last one also serves deeper levels).

    Raises:
        NotFoundError: An object on the way (e.g. ``project``) is null.
        ProtocolError: A field is missing or has the wrong shape.
    """
    current: Any = data
    parent: dict[str, Any] = dict(data)
    for depth, key in enumerate(path):
        if not isinstance(current, Mapping) or key not in current:
            raise ProtocolError(
                f"{operation}: field {'.'.join(path[: depth + 1])} missing from the answer",
                operation=operation,
            )
        parent = dict(current)
        current = current[key]
        if current is None:
            missing = _what_at(what, depth)
            raise NotFoundError(f"{missing} not found", operation=operation, what=missing)
    if not isinstance(current, Mapping):
        raise ProtocolError(f"{operation}: {'.'.join(path)} is not an object", operation=operation)
    return parent, dict(current)


def iter_pages(
    execute: Execute,
    document: Document,
    variables: Mapping[str, Any],
    *,
    connection_path: Sequence[str] = ("project", "runs"),
    what: str | Sequence[str] = "project",
    required: Mapping[str, str] | None = None,
    page_size: int | None = None,
    size_variable: str = "first",
    cursor_variable: str = "after",
    cursor: str | None = None,
) -> Iterator[Page]:
    """Yield the pages of a Relay connection, one request per page.

    Args:
        execute: Sends a document and returns ``data`` (e.g. ``HttpTransport.execute_document``).
        document: The operation; it must take ``size_variable`` and ``cursor_variable``.
        variables: The other variables (not mutated).
        connection_path: Keys from ``data`` to the connection, e.g. ``("project", "runs")``.
        what: Named in the :class:`NotFoundError` when a parent on the path is null: one
            name, or one per level of ``connection_path`` (e.g. ``["project 'e/p'",
            "run 'e/p/r'"]``).
        required: Other top-level fields of ``data`` that must not be null, each with the
            name for its :class:`NotFoundError` (e.g. ``{"entity": "entity 'e'"}`` beside a
            connection at the root).
        page_size: Sets ``size_variable`` on every request when given.
        size_variable: Name of the page-size variable.
        cursor_variable: Name of the cursor variable.
        cursor: Start after this cursor (None: from the beginning).

    Yields:
        Each :class:`Page`, as soon as it arrives.

    Raises:
        NotFoundError: The connection's parent resolved to null.
        ProtocolError: Missing fields, or ``hasNextPage`` without progress.
    """
    op = document.operation
    seen: set[str] = set()
    while True:
        request = dict(variables)
        if page_size is not None:
            request[size_variable] = page_size
        request[cursor_variable] = cursor
        page = read_page(
            execute(document, request), connection_path, operation=op, what=what,
            required=required, seen=seen,
        )
        yield page
        if not page.has_next_page:
            return
        cursor = page.end_cursor


def read_page(
    data: Mapping[str, Any],
    connection_path: Sequence[str],
    *,
    operation: str,
    what: str | Sequence[str],
    required: Mapping[str, str] | None = None,
    seen: set[str] | None = None,
) -> Page:
    """Read one page of a connection from an answer's ``data`` (see :func:`iter_pages`).

    Args:
        data: The answer's ``data``.
        connection_path: Keys from ``data`` to the connection.
        operation: The operation's name, for errors.
        what: As in :func:`iter_pages`.
        required: As in :func:`iter_pages`.
        seen: Cursors of the pages read so far; the new one is added (a repeat raises).

    Raises:
        NotFoundError: A parent on the path, or a ``required`` field, is null.
        ProtocolError: No ``edges``, or ``hasNextPage`` without a new cursor.
    """
    for key, name in (required or {}).items():
        if isinstance(data, Mapping) and data.get(key) is None:
            raise NotFoundError(f"{name} not found", operation=operation, what=name)
    parent, connection = resolve_connection(data, connection_path, operation=operation, what=what)
    edges = connection.get("edges")
    info = connection.get("pageInfo") or {}
    if not isinstance(edges, list):
        raise ProtocolError(f"{operation}: connection without 'edges'", operation=operation)
    nodes = [edge["node"] for edge in edges if edge and edge.get("node") is not None]
    last = edges[-1].get("cursor") if edges and edges[-1] else None
    next_cursor = last or info.get("endCursor")
    has_next = bool(info.get("hasNextPage"))
    seen = set() if seen is None else seen
    if has_next and (not edges or not next_cursor or next_cursor in seen):
        raise ProtocolError(
            f"{operation}: the server reports more pages but the cursor did not advance",
            operation=operation,
        )
    if next_cursor:
        seen.add(next_cursor)
    return Page(nodes=nodes, end_cursor=next_cursor, has_next_page=has_next, parent=parent, edges=edges)
