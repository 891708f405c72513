"""A tiny scripted HTTP server: answers /graphql with canned (status, headers, body) replies."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]


@contextmanager
def scripted_server(replies: list[Reply], *, repeat_last: bool = True) -> Iterator[dict[str, Any]]:
    """Serve ``replies`` in order (the last one forever when ``repeat_last``); yield state."""
    queue: deque[Reply] = deque(replies)
    state: dict[str, Any] = {"count": 0, "bodies": [], "headers": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            state["bodies"].append(self.rfile.read(length))
            state["headers"].append(dict(self.headers))
            state["count"] += 1
            status, headers, body = queue.popleft() if len(queue) > 1 or not repeat_last else queue[0]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
