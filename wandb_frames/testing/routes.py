"""Answers a test can put in front of one path of the local server: redirects and echoes.

Set with :meth:`LocalServer.route(path, answer) <wandb_frames.testing.LocalServer.route>`;
the answer replaces whatever the path served (for every method, before authentication):

- :class:`Redirect`: ``status`` (301, 302, 303, 307 or 308) with ``Location``, e.g. to
  another server, to check what a client carries across;
- :class:`Echo`: the request as received (request line, every header, body), the way a
  debug error page or a proxy's error answer shows it, to check what a client lets through
  into its messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

__all__ = ["Echo", "Redirect", "Route", "echo_body"]


@dataclass(frozen=True, slots=True)
class Redirect:
    """Answer ``status`` with ``Location: location`` (an absolute URL or a path on this server)."""

    status: int
    location: str

    def __post_init__(self) -> None:
        if self.status not in (301, 302, 303, 307, 308):
            raise ValueError(f"not a redirect status: {self.status}")


@dataclass(frozen=True, slots=True)
class Echo:
    """Answer ``status`` with the request as received.

    Attributes:
        status: The HTTP status (a 200 answers a GraphQL ``errors`` body).
        as_json: ``{"errors": [{"message": <request>}]}`` (``data: null``); else ``text/plain``.
    """

    status: int = 400
    as_json: bool = True


Route = Redirect | Echo


def echo_body(route: Echo, request_line: str, headers: Iterable[tuple[str, str]],
              body: bytes) -> tuple[bytes, str]:
    """The body and content type of an :class:`Echo` answer."""
    text = "\r\n".join([request_line, *(f"{k}: {v}" for k, v in headers), "", body.decode("utf-8", "replace")])
    if route.as_json:
        return orjson.dumps({"errors": [{"message": text, "extensions": {"request": text}}], "data": None}), \
            "application/json"
    return text.encode(), "text/plain; charset=utf-8"
