"""Tools of the leak hunt: the key's encodings, a recording foreign server, an object-graph walker.

The encodings are spelled out here, independently of ``wandb_frames.graphql.credentials``,
so that the hunt does not trust the code it checks.
"""

from __future__ import annotations

import base64
import threading
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

from wandb_frames.api import Api
from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing import LocalServer

ENTITY, PROJECT = "local", "hunt"
FAST = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=0.01, max_delay=0.02)

#: The key of every server and client of the hunt (a module constant: test frames, whose
#: locals the walker reads, never hold it in a variable).
KEY = "local-" + "leakhunt7q" * 4


def encodings(key: str = KEY) -> dict[str, str]:
    """Every form of ``key`` that counts as a leak, by name."""
    basic = f"api:{key}".encode()
    forms = {
        "raw": key,
        "url-encoded": quote(key, safe=""),
        "form-encoded": quote_plus(key),
        "basic api:KEY": base64.b64encode(basic).decode(),
        "basic api:KEY urlsafe": base64.urlsafe_b64encode(basic).decode(),
        "basic api:KEY unpadded": base64.b64encode(basic).decode().rstrip("="),
        "base64 KEY": base64.b64encode(key.encode()).decode().rstrip("="),
    }
    return forms


FORMS = encodings()


def leaks_in(text: str | bytes) -> list[str]:
    """Names of the key's encodings found in ``text``."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return [name for name, form in FORMS.items() if form in text]


# ----------------------------------------------------------------------------- foreign server
@dataclass
class Seen:
    """One request a :class:`ForeignServer` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ForeignServer:
    """Another origin (same host, another port): records every request, serves ``files``,
    answers the paths of ``redirects`` with a 302 to their URL."""

    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> ForeignServer:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _record(self) -> Seen:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers.items()),
                            self.rfile.read(length) if length else b"")
                app.seen.append(seen)
                return seen

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                seen = self._record()
                path = seen.path.split("?")[0]
                body = app.files.get(path)
                if path in app.redirects:
                    self.send_response(302)
                    self.send_header("Location", app.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif body is None:
                    self._answer(404, b"not here", "text/plain")
                else:
                    self._answer(200, body, "application/octet-stream")

            def do_POST(self) -> None:  # noqa: N802
                self._record()
                self._answer(200, orjson.dumps({"data": {}}), "application/json")

            do_HEAD = do_GET  # noqa: N815

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def credentials_received(self) -> list[str]:
        """``METHOD path: header or body`` for every request that carried the key in any form."""
        found = []
        for seen in self.seen:
            for name, value in seen.headers.items():
                if name.lower() in ("authorization", "proxy-authorization") or leaks_in(value):
                    found.append(f"{seen.method} {seen.path}: {name}")
            if leaks_in(seen.body) or leaks_in(seen.path):
                found.append(f"{seen.method} {seen.path}: body or path")
        return found


# ----------------------------------------------------------------------------- object walker
_WALKED_MODULES = ("requests", "urllib3", "http.client", "wandb_frames.errors", "gql", "graphql")


def _walk_attributes(obj: object) -> bool:
    if isinstance(obj, BaseException):
        return True
    module = type(obj).__module__ or ""
    return any(module == m or module.startswith(m + ".") for m in _WALKED_MODULES)


def reachable_texts(root: object, *, max_depth: int = 12) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every text an error reporter could find from ``root``.

    From an exception: its ``str``/``repr``, ``args``, attributes, ``__cause__`` and
    ``__context__`` (recursively), and the locals of every frame of its traceback (as
    reporters that capture locals do: containers walked, other objects by ``repr``). The
    objects of ``requests``/``urllib3``/``http.client`` (responses, prepared requests, their
    headers) are walked attribute by attribute, as are exceptions.
    """
    seen: set[int] = set()
    stack: list[tuple[object, str, int]] = [(root, "exc", 0)]
    while stack:
        obj, where, depth = stack.pop()
        if id(obj) in seen or depth > max_depth:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield where, obj
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            yield where, bytes(obj).decode("latin-1")
            continue
        if obj is None or isinstance(obj, int | float | complex | bool | type | types.ModuleType):
            continue
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
            continue
        try:
            yield where + " repr", repr(obj)
        except Exception:  # noqa: BLE001 - a broken repr is not a leak
            pass
        nxt = depth + 1
        if isinstance(obj, types.TracebackType):
            stack.append((obj.tb_frame, where + ".frame", nxt))
            if obj.tb_next is not None:
                stack.append((obj.tb_next, where + ".tb_next", depth))
            continue
        if isinstance(obj, types.FrameType):
            code = obj.f_code
            for name, value in obj.f_locals.items():
                stack.append((value, f"{where}[{code.co_name}].{name}", nxt))
            continue
        if isinstance(obj, Mapping):
            try:
                items = list(obj.items())
            except Exception:  # noqa: BLE001 - e.g. urllib3's pool container refuses iteration
                items = []
            for key, value in items:
                stack.append((key, f"{where}{{key}}", nxt))
                stack.append((value, f"{where}[{key!r}]", nxt))
            continue
        if isinstance(obj, list | tuple | set | frozenset | types.SimpleNamespace):
            items = vars(obj).values() if isinstance(obj, types.SimpleNamespace) else obj
            for i, value in enumerate(items):
                stack.append((value, f"{where}[{i}]", nxt))
            continue
        if not _walk_attributes(obj):
            continue
        if isinstance(obj, BaseException):
            yield where + " str", str(obj)
            stack.append((obj.args, where + ".args", nxt))
            stack.append((obj.__cause__, where + ".__cause__", nxt))
            stack.append((obj.__context__, where + ".__context__", nxt))
            stack.append((obj.__traceback__, where + ".__traceback__", nxt))
            stack.append((getattr(obj, "__notes__", None), where + ".__notes__", nxt))
        for name, value in list(getattr(obj, "__dict__", {}).items()):
            stack.append((value, f"{where}.{name}", nxt))
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if isinstance(name, str) and hasattr(obj, name):
                    stack.append((getattr(obj, name), f"{where}.{name}", nxt))


def leaks_from(exc: BaseException) -> list[str]:
    """Where, in everything reachable from ``exc``, the key appears (in any encoding)."""
    return [f"{where}: {', '.join(names)}" for where, text in reachable_texts(exc) if (names := leaks_in(text))]


def netrc_api(server: LocalServer, **kw: Any) -> Api:
    """An Api whose key comes from the netrc only (``api_key`` not passed; see the conftest)."""
    api = Api(overrides={"base_url": server.url}, progress=False, retry=FAST, **kw)
    assert api.settings.api_key, "the key was not read from the test netrc"
    return api
