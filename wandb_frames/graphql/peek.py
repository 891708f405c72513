"""Read a connection's ``pageInfo`` from the start of a raw GraphQL answer, without parsing it.

A GraphQL server writes the fields of an answer in the order of the query's selection set
(GraphQL spec, "Serialized Map Ordering"). A query that selects ``pageInfo`` before
``edges`` therefore gets the next page's cursor in the first few hundred bytes of an
answer that may be megabytes long. :func:`peek_page_info` reads just that prefix, so the
next request can go out while the current answer is still being parsed.

The reader is deliberately narrow: it walks objects along the given path and skips only
scalar members on the way (``runCount`` beside ``runs``). Anything else (an ``errors``
array first, a null parent, ``edges`` before ``pageInfo``, an unexpected token) returns
``None``, and the caller parses the whole answer as usual. It never returns a wrong answer
for valid JSON: whatever it returns equals the fully parsed value at that path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

import orjson

__all__ = ["PeekedPageInfo", "peek_page_info"]

_SPACE: Final = re.compile(rb"[ \t\n\r]*")
_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR: Final = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_MAX_MEMBERS: Final = 64
"""Members skipped per object before giving up (the prefix we read is meant to be short)."""


class PeekedPageInfo(NamedTuple):
    """``pageInfo.endCursor`` and ``pageInfo.hasNextPage`` as read from the answer's prefix."""

    end_cursor: str | None
    has_next_page: bool


class _Unreadable(Exception):
    """The prefix is not the narrow shape we read: parse the whole answer instead."""


class _Reader:
    __slots__ = ("body", "pos")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def space(self) -> None:
        match = _SPACE.match(self.body, self.pos)
        if match is not None:
            self.pos = match.end()

    def punct(self, char: bytes) -> None:
        self.space()
        if self.body[self.pos : self.pos + 1] != char:
            raise _Unreadable
        self.pos += 1

    def at(self, char: bytes) -> bool:
        self.space()
        return self.body[self.pos : self.pos + 1] == char

    def string(self) -> str:
        self.space()
        match = _STRING.match(self.body, self.pos)
        if match is None:
            raise _Unreadable
        self.pos = match.end()
        try:
            value = orjson.loads(match.group())
        except orjson.JSONDecodeError as exc:
            raise _Unreadable from exc
        if type(value) is not str:
            raise _Unreadable
        return value

    def scalar(self) -> object:
        """A string, number, true, false or null (never an object or an array)."""
        self.space()
        if self.at(b'"'):
            return self.string()
        match = _SCALAR.match(self.body, self.pos)
        if match is None:
            raise _Unreadable
        self.pos = match.end()
        return orjson.loads(match.group())

    def find_member(self, key: str) -> None:
        """Inside ``{``: skip scalar members until ``key``; leave the reader at its value."""
        for _ in range(_MAX_MEMBERS):
            name = self.string()
            self.punct(b":")
            if name == key:
                return
            self.scalar()
            if not self.at(b","):
                raise _Unreadable  # the object ended (or went on) without the key
            self.punct(b",")
        raise _Unreadable


def _read_page_info(reader: _Reader) -> PeekedPageInfo:
    reader.punct(b"{")
    found: dict[str, object] = {}
    if not reader.at(b"}"):
        for _ in range(_MAX_MEMBERS):
            name = reader.string()
            reader.punct(b":")
            value = reader.scalar()
            if name in found:
                raise _Unreadable  # a repeated key: let the full parser decide which wins
            found[name] = value
            if not reader.at(b","):
                break
            reader.punct(b",")
        else:
            raise _Unreadable
    reader.punct(b"}")
    cursor = found.get("endCursor")
    has_next = found.get("hasNextPage")
    if type(has_next) is not bool or not (cursor is None or type(cursor) is str):
        raise _Unreadable
    return PeekedPageInfo(cursor, has_next)


def peek_page_info(body: bytes, path: Sequence[str]) -> PeekedPageInfo | None:
    """Return the ``pageInfo`` of the connection at ``path``, read from the answer's prefix.

    Args:
        body: The raw answer (``{"data": {...}}``), as received.
        path: Keys from the top level to the connection, e.g. ``("data", "project", "runs")``.

    Returns:
        The cursor and the has-next flag, or ``None`` when the prefix is not a chain of
        objects whose members before the path's key are scalars (then parse the answer).
        Trailing members are not read: a repeated ``pageInfo`` key later in the same object
        would be missed, which no GraphQL server sends.

    Examples:
        >>> peek_page_info(b'{"data":{"project":{"runCount":3,"runs":{"pageInfo":'
        ...                b'{"endCursor":"c2","hasNextPage":true},"edges":[]}}}}',
        ...                ("data", "project", "runs"))
        PeekedPageInfo(end_cursor='c2', has_next_page=True)
        >>> peek_page_info(b'{"errors":[{"message":"boom"}],"data":null}', ("data", "project", "runs"))
    """
    reader = _Reader(body)
    try:
        for key in (*path, "pageInfo"):
            reader.punct(b"{")
            reader.find_member(key)
        return _read_page_info(reader)
    except (_Unreadable, orjson.JSONDecodeError, IndexError):
        return None
