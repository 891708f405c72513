"""PendingAnswer: a body that breaks off is asked again; one that cannot be decoded is a typed error."""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wandb_frames.errors import TransportError
from wandb_frames.graphql.transport import HttpTransport, RetryPolicy
from wandb_frames.settings import resolve_settings

PAYLOAD = b'{"data":{"project":{"runs":{"pageInfo":{"endCursor":"c","hasNextPage":false},"edges":[' + \
    b",".join(b'{"node":{"name":"%d","blob":"%s"}}' % (i, os.urandom(40).hex().encode()) for i in range(400)) + b"]}}}}"


def _corrupt_gzip(payload: bytes) -> bytes:
    """A gzip body whose first two thirds decompress and whose next block is refused, always.

    (Flipping bits of a real stream is not enough: zlib may decode garbage as valid blocks
    and simply never reach the end, which reads as a body that ends early.)
    """
    deflate = zlib.compressobj(wbits=31)  # with the gzip wrapper
    good = deflate.compress(payload[: len(payload) * 2 // 3]) + deflate.flush(zlib.Z_FULL_FLUSH)
    return good + b"\x07" + bytes(64)  # a final block of type 3, which DEFLATE reserves


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    calls = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        body = _corrupt_gzip(PAYLOAD) if type(self).mode == "corrupt" else gzip.compress(PAYLOAD)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.calls = 0
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _transport(url: str) -> HttpTransport:
    settings = resolve_settings({"base_url": url}, api_key="k" * 40, environ={})
    transport = HttpTransport(settings, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    transport.session.headers["Accept-Encoding"] = "gzip"
    return transport


def test_a_pending_gzip_answer_reads_whole(url: str) -> None:
    _Handler.mode = "ok"
    pending = _transport(url).post_pending("query Q { x }", "Q", {}, head=4096)
    assert pending.head == PAYLOAD[:4096]
    assert pending.read().content == PAYLOAD


def test_a_body_that_does_not_decode_is_a_typed_error_naming_the_operation(url: str) -> None:
    _Handler.mode = "corrupt"
    pending = _transport(url).post_pending("query Q { x }", "Q", {}, head=4096)
    assert pending.head == PAYLOAD[:4096]
    with pytest.raises(TransportError) as info:
        pending.read()
    assert info.value.operation == "Q" and "k" * 40 not in str(info.value)
