"""Review: the HTTP transport (credentials only to the base URL's origin)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wandb_frames.graphql.transport import HttpTransport
from wandb_frames.settings import Settings

KEY = "local-" + "k" * 40


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        type(self).seen.append(self.headers.get("Authorization"))
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[str | None]]]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1]), _Recorder.seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_get_bytes_sends_key_to_the_base_url(recorder: tuple[int, list[str | None]]) -> None:
    port, seen = recorder
    transport = HttpTransport(Settings(base_url=f"http://127.0.0.1:{port}", api_key=KEY))
    try:
        assert transport.get_bytes(f"http://127.0.0.1:{port}/files/x") == b"hello"
    finally:
        transport.shutdown()
    assert seen and seen[0] is not None and seen[0].startswith("Basic ")


def test_get_bytes_never_sends_key_to_another_origin(recorder: tuple[int, list[str | None]]) -> None:
    port, seen = recorder
    text = str(port)
    # The base URL's port is the recorder's port without its last digit: a string prefix.
    base = f"http://127.0.0.1:{text[:-1]}"
    transport = HttpTransport(Settings(base_url=base, api_key=KEY))
    try:
        assert transport.get_bytes(f"http://127.0.0.1:{port}/presigned/file.parquet") == b"hello"
    finally:
        transport.shutdown()
    assert seen == [None]


class _Limiter(BaseHTTPRequestHandler):
    """Answers 429 with ``headers`` to the first POST, then 200 with a viewer."""

    times: list[float] = []
    headers_429: dict[str, str] = {}

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        import json
        import time

        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        cls = type(self)
        cls.times.append(time.monotonic())
        if len(cls.times) == 1:
            body = b'{"errors": [{"message": "rate limit exceeded"}]}'
            self.send_response(429)
            for name, value in cls.headers_429.items():
                self.send_header(name, value)
        else:
            body = json.dumps({"data": {"viewer": {"entity": "e"}}}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _gap_after_429(headers: dict[str, str], policy: Any) -> float:
    _Limiter.times = []
    _Limiter.headers_429 = headers
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Limiter)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    transport = HttpTransport(Settings(base_url=f"http://127.0.0.1:{httpd.server_address[1]}", api_key=KEY),
                              retry=policy)
    try:
        assert transport.post("query Viewer { viewer { entity } }", "Viewer", {}) == {"viewer": {"entity": "e"}}
    finally:
        transport.shutdown()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert len(_Limiter.times) == 2
    return _Limiter.times[1] - _Limiter.times[0]


def test_retry_after_is_honoured() -> None:
    from wandb_frames.graphql.transport import RetryPolicy

    policy = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=0.01, max_delay=5.0)
    assert _gap_after_429({"Retry-After": "0.6"}, policy) >= 0.55


def test_ratelimit_reset_is_honoured() -> None:
    from wandb_frames.graphql.transport import RetryPolicy

    policy = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=0.01, max_delay=5.0)
    assert _gap_after_429({"RateLimit-Reset": "0.6"}, policy) >= 0.55


def test_retry_after_longer_than_max_delay_is_honoured() -> None:
    from wandb_frames.graphql.transport import RetryPolicy

    policy = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=0.01, max_delay=0.05)
    assert _gap_after_429({"Retry-After": "0.6"}, policy) >= 0.55
