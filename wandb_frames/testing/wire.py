"""Wire encodings shared by the server modules: JSON strings, timestamps, ids, cursors, paging."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

__all__ = [
    "MAX_PAGE_SIZE",
    "DEFAULT_PAGE_SIZE",
    "backwards",
    "offset_before",
    "connection",
    "cursor_for",
    "dumps",
    "global_id",
    "iso",
    "offset_after",
]

T = TypeVar("T")

#: ``first`` defaults to 50 (as on W&B) and is capped at 10,000 (W&B's cap is unknown;
#: large pages keep benchmarks fast).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 10_000


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


def dumps(value: Any) -> str:
    """JSON text as W&B sends it inside JSONString fields: compact, bare NaN/Infinity allowed."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True, default=_default, ensure_ascii=False)


def iso(value: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` suffix (``value`` is naive UTC)."""
    return value.replace(tzinfo=None).isoformat() + "Z"


def global_id(*parts: object) -> str:
    """An opaque storage id: base64 of ``part1:part2:...`` (e.g. ``Run:v1:<id>:<project>:<entity>``)."""
    return base64.b64encode(":".join(str(p) for p in parts).encode()).decode()


def decode_global_id(value: str) -> list[str]:
    """Inverse of :func:`global_id` (an empty list when ``value`` is not one)."""
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return []


def cursor_for(index: int) -> str:
    """Relay offset cursor ``base64("arrayconnection:<index>")``."""
    return base64.b64encode(f"arrayconnection:{index}".encode()).decode()


def offset_after(after: str | None) -> int:
    """Start offset for ``after``: ``arrayconnection:N`` → ``N + 1``; None/empty → 0.

    Raises:
        ValueError: the cursor is not an ``arrayconnection`` cursor.
    """
    if not after:
        return 0
    try:
        text = base64.b64decode(after.encode(), validate=True).decode()
        prefix, _, number = text.partition(":")
        if prefix != "arrayconnection":
            raise ValueError(after)
        return int(number) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"invalid cursor {after!r}") from exc


def offset_before(before: str | None, total: int) -> int:
    """End offset (exclusive) for ``before``: ``arrayconnection:N`` → ``N``; None/empty → ``total``.

    Raises:
        ValueError: the cursor is not an ``arrayconnection`` cursor.
    """
    if not before:
        return total
    return offset_after(before) - 1


def backwards(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``last``/``before`` arguments of a resolver's keyword arguments, for :func:`connection`."""
    return {"last": kwargs.get("last"), "before": kwargs.get("before")}


def page_bounds(
    total: int, first: int | None, after: str | None, last: int | None = None, before: str | None = None
) -> tuple[int, int]:
    """``(start, stop)`` of a page over ``total`` items (the Relay slicing algorithm).

    The items after ``after`` and before ``before``; of those the first ``first`` (the default
    page size when neither ``first`` nor ``last`` is given), then the last ``last``. Sizes are
    capped at ``MAX_PAGE_SIZE``.

    Raises:
        ValueError: bad cursor or negative ``first``/``last``.
    """
    start = min(offset_after(after), total)
    stop = max(start, min(offset_before(before, total), total))
    if first is not None or last is None:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if size < 0:
            raise ValueError("first must be >= 0")
        stop = min(stop, start + min(size, MAX_PAGE_SIZE))
    if last is not None:
        if last < 0:
            raise ValueError("last must be >= 0")
        start = max(start, stop - min(last, MAX_PAGE_SIZE))
    return start, stop


def connection(
    items: Sequence[T],
    first: int | None,
    after: str | None,
    node: Callable[[T], Any] = lambda x: x,
    extra: Callable[[T, int], dict[str, Any]] | None = None,
    *,
    last: int | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """A Relay connection dict over ``items`` (offset cursors, ``totalCount`` included).

    ``first``/``after`` page forwards, ``last``/``before`` backwards (see :func:`page_bounds`).

    Raises:
        ValueError: bad cursor, ``first`` or ``last``.
    """
    start, stop = page_bounds(len(items), first, after, last, before)
    edges = []
    for i in range(start, stop):
        edge = {"node": node(items[i]), "cursor": cursor_for(i)}
        if extra is not None:
            edge.update(extra(items[i], i))
        edges.append(edge)
    return {
        "totalCount": len(items),
        "edges": edges,
        "pageInfo": {
            "hasNextPage": stop < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursor_for(start) if edges else None,
            "endCursor": cursor_for(stop - 1) if edges else None,
        },
    }
