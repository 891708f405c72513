"""Answers as received: whole (:class:`RawAnswer`), or pending after their first bytes.

:class:`PendingAnswer` lets a caller read an answer's first bytes (the next page's cursor,
see :mod:`wandb_frames.graphql.peek`) while the rest is still on the wire; made by
:meth:`~wandb_frames.graphql.transport.HttpTransport.post_pending`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import urllib3

from wandb_frames.errors import TransportError

__all__ = ["RETRYABLE_ERRORS", "PendingAnswer", "RawAnswer", "Resender", "read_body"]

logger = logging.getLogger("wandb_frames.transport")

RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
"""``requests`` failures worth another attempt (the connection, not the request, failed)."""


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """A GraphQL answer as received (see :meth:`HttpTransport.post_raw`).

    Its ``repr`` gives the size, not the bytes: an answer can echo what the server received
    (the credentials among it), and error reporters record the locals of a failing call.
    """

    content: bytes = field(repr=False)
    operation: str
    content_type: str

    def __repr__(self) -> str:
        return f"RawAnswer({self.operation!r}, {len(self.content)} bytes, {self.content_type!r})"


class Resender(Protocol):
    """What a :class:`PendingAnswer` needs of its transport: send the request again, whole.

    :class:`~wandb_frames.graphql.transport.HttpTransport` is one (this module does not
    import it: the transport builds pending answers, so that import would be a cycle).
    """

    def post_raw(self, query: str, operation: str, variables: Mapping[str, Any]) -> RawAnswer:
        """POST one GraphQL operation with retries; return the whole answer."""
        ...


def read_body(response: requests.Response, limit: int | None = None) -> bytes:
    """The whole (decoded) body of a streamed response, read in one call; or its first bytes.

    ``response.content`` reads 10 KiB at a time in Python; with another thread busy (the
    caller decoding the previous page), each chunk waits for the GIL (up to the 5 ms switch
    interval), so a multi-megabyte page would crawl. One ``read()`` loops in C instead.
    urllib3 failures are mapped to the ``requests`` errors ``.content`` would raise.

    With ``limit``, at most ``limit`` bytes are read and the connection stays checked out
    (unless the body ended): the rest is read by a later call without ``limit``.
    """
    if getattr(response, "_content_consumed", False):  # a session hook already read it
        return response.content
    raw = response.raw
    done = True
    try:
        if limit is None:
            data = raw.read(decode_content=True)
        else:
            data = raw.read(limit, decode_content=True)
            done = len(data) < limit
    except urllib3.exceptions.ProtocolError as exc:  # cut short: retryable
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except OSError as exc:  # the socket failed mid-body
        raise requests.ConnectionError(exc) from exc
    finally:
        if done:
            raw.release_conn()
    return bytes(data)


class PendingAnswer:
    """An answer whose status, headers and first bytes arrived; the rest is read on demand.

    Made by :meth:`HttpTransport.post_pending`. :attr:`head` can be inspected at once (e.g.
    for the next page's cursor) while the body is still on the wire; :meth:`read` reads the
    rest. A body that fails mid-way is requested again (the operation must be a query).
    """

    __slots__ = ("_body_done", "_request", "_response", "_transport", "head", "operation")

    def __init__(
        self,
        transport: Resender,
        response: requests.Response,
        head: bytes,
        request: tuple[str, str, Mapping[str, Any]],
        *,
        complete: bool,
    ) -> None:
        self._transport = transport
        self._response = response
        self._request = request
        self._body_done = complete
        self.head = head
        self.operation = request[1]

    def read(self) -> RawAnswer:
        """Read the rest of the body; return the whole answer (re-requested if the body broke)."""
        content_type = self._response.headers.get("Content-Type", "")
        if self._body_done:
            return RawAnswer(self.head, self.operation, content_type)
        self._body_done = True
        broken = ""
        try:
            rest = read_body(self._response)
        except RETRYABLE_ERRORS as exc:
            logger.debug("%s: the answer broke off (%s); asking again", self.operation, type(exc).__name__)
            self._response.close()
            return self._transport.post_raw(*self._request)
        except requests.RequestException as exc:  # e.g. a body that does not decompress
            self._response.close()
            broken = type(exc).__name__
        if broken:  # raised outside ``except``: a requests error keeps the request it sent
            raise TransportError(
                f"{self.operation}: reading the answer failed: {broken}", operation=self.operation
            )
        self.head += rest
        return RawAnswer(self.head, self.operation, content_type)

    def close(self) -> None:
        """Drop an answer that will not be read (frees its connection)."""
        if not self._body_done:
            self._body_done = True
            self._response.close()
