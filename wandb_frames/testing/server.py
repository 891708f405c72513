"""``LocalServer``: a real HTTP server speaking W&B's public GraphQL API, in a background thread.

Why this module is long: it is the HTTP face of the server (routes, compression, ranges,
faults, network shaping, listing churn, seeding) and one class that tests drive; the GraphQL
execution, resolvers, store, network and churn models already live in their own modules.

Decisions where W&B's behaviour is unknown (see the protocol notes):

- ``first`` defaults to 50 and is capped at 10,000 (``wire.MAX_PAGE_SIZE``); cursors are
  ``base64("arrayconnection:N")`` and ``after`` starts at ``N + 1``.
- An empty ``order`` means ``-createdAt``; missing values sort first ascending (Mongo style);
  ties are broken by run ID ascending in both directions; an unknown order key sorts by run ID.
- ``serverInfo`` enables ``SWEEPS_QUERY_FILTERING`` (sweep filters run through mongomock) and
  disables ``ARTIFACT_DIGEST_ALGORITHM`` (the client then omits ``digestAlgorithm``).
- Responses over 1 KiB are gzip-compressed (level 1) when ``Accept-Encoding`` has gzip.
- Bad filters: ``summary.X`` and malformed JSON → 400; tag lists and ``$all`` → 500; validation
  errors → 400; resolver errors → 200 with ``errors`` and partial ``data``.
- Parquet history, run files and artifact files/manifests are served by GET under an unguessable per-server token;
  a ``running`` run keeps its last 2 history rows out of the parquet file as ``liveData``.
  Downloads honour one HTTP byte range (``bytes=a-b``, ``a-``, ``-n``) with ``206`` and
  ``Content-Range`` (``416`` when unsatisfiable; other ``Range`` forms get the whole body), as
  cloud storage does for wandb-core's remote parquet reads; ranged answers are never gzipped,
  and ``HEAD`` reports the identity ``Content-Length``.
- Exported vs live history: W&B keeps a run's not-yet-exported rows in its live store and the
  rest in parquet files. wandb-core 0.31.0 reads ``[a, b)`` from parquet and, when ``b`` passes
  the first live step, appends what ``HistoryPage{minStep: a, maxStep: b}`` (or a ranged
  ``SampledHistoryPage`` spec) returns, without de-duplication; W&B's own reader test
  (``MixedParquetAndLiveData``) stubs such a page with the live rows only. So, for a run that
  has both exported and live rows, *step-ranged* reads (``history`` with ``minStep``/``maxStep``,
  ``sampledHistory`` specs with ``minStep``/``maxStep``) serve only the live rows. Unranged
  reads (``history(samples)`` = ``RunFullHistory``, ``sampledHistory`` specs without a range =
  ``RunSampledHistory``) serve every row, since ``run.history()`` never reads parquet; and a
  run that is fully exported (finished) or has exported nothing serves every row in any mode.
  Clients that page a running run with ``HistoryPage`` alone (pre-wandb-core Python) miss its
  exported rows here, as they would against such a backend; ``LocalServer(parquet_export=False)``
  models a server without the export, where every read serves every row.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import logging
import secrets
import shutil
import string
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from wandb_frames.testing import engine
from wandb_frames.testing.artifact_files import artifact_download
from wandb_frames.testing.catalog import normalize_artifacts
from wandb_frames.testing.churn import ChurnEvent, ListingChurn, ListingChurner
from wandb_frames.testing.downloads import Unsatisfiable, byte_range
from wandb_frames.testing.faults import FaultInjector, Faults
from wandb_frames.testing.network import Network, NetworkShaper, TrafficCounter, TrafficStats
from wandb_frames.testing.records import ArtifactRecord, ReportRecord, RunRecord, SweepRecord
from wandb_frames.testing.resolvers import Context
from wandb_frames.testing.routes import Echo, Redirect, Route, echo_body
from wandb_frames.testing.store import ProjectStore, Store

__all__ = ["LocalServer"]

logger = logging.getLogger("wandb_frames.testing.server")

#: Responses larger than this are gzip-compressed when the client accepts gzip.
GZIP_MIN_BYTES = 1024
_REQUEST_LOG_SIZE = 100_000
#: Bodies up to this size are sent in the same write as the headers.
_COALESCE_MAX_BYTES = 64 * 1024


def _random_key() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "local-" + "".join(secrets.choice(alphabet) for _ in range(40))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The stdlib's listen backlog of 5 resets connections when dozens of clients connect
    # at once (parallel fetches); a real server's is in the hundreds.
    request_queue_size = 128
    app: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (instead of printing) errors such as a client closing the connection early."""
        logger.debug("connection error from %s", client_address[0] if client_address else "?", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: without it a small answer written after its headers waits for the
    # client's delayed ACK (~40 ms per GraphQL request on loopback); W&B has no such stall.
    disable_nagle_algorithm = True
    server: _HTTPServer
    _headers_buffer: list[bytes]  # the stdlib's pending header lines (send_header fills it)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.command, urlsplit(self.path).path)

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None, truncate: bool = False, compress: bool = True,
              rate_limited: bool = False) -> None:
        if compress and len(body) > GZIP_MIN_BYTES and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            headers = {**(headers or {}), "Content-Encoding": "gzip"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        payload = b"" if self.command == "HEAD" else (body[: len(body) // 2] if truncate else body)
        app = self.server.app
        app.traffic_counter.sent(status, len(payload), rate_limited)
        if app.network.paced and payload:  # headers now, then the body at the link's pace
            self.end_headers()
            app.network.write(self.wfile.write, payload)
        elif len(payload) <= _COALESCE_MAX_BYTES:
            # headers and a small body leave in one send (one packet, one syscall)
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(payload)
            self.flush_headers()
        else:
            self.end_headers()
            self.wfile.write(payload)

    def _json(self, status: int, payload: Any, **kw: Any) -> None:
        self._send(status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), **kw)

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError):
                return None
        return raw

    def _shaped(self, route: str, answer: Callable[[], None]) -> None:
        """Answer a request through the server's network: counted, delayed, then ``answer()``."""
        app = self.server.app
        app.traffic_counter.begin(route)
        try:
            app.network.delay()
            answer()
        finally:
            app.traffic_counter.end()

    def _routed(self, raw: bytes | None) -> bool:
        """Answer from a test's :meth:`LocalServer.route` for this path; False when none."""
        route = self.server.app.routes.get(urlsplit(self.path).path)
        if route is None:
            return False
        if isinstance(route, Redirect):
            self._send(route.status, b"", "text/plain", {"Location": route.location})
        else:
            body, content_type = echo_body(route, self.requestline, self.headers.items(), raw or b"")
            self._send(route.status, body, content_type)
        return True

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path.rstrip("/")
        self._shaped("graphql" if path == "/graphql" else "other", lambda: self._post(path))

    def _post(self, path: str) -> None:
        raw = self._body()
        if self._routed(raw):
            return
        if path != "/graphql":
            self._json(404, {"errors": [{"message": f"not found: {path}"}]})
            return
        app = self.server.app
        wait = app.network.admit()
        if wait is not None:
            self._json(429, {"errors": [{"message": "rate limit exceeded"}]},
                       headers=app.network.rate_limit_headers(wait), rate_limited=True)
            return
        if not app.authorized(self.headers.get("Authorization", "")):
            self._json(401, {"errors": [{"message": "invalid or missing API key"}]})
            return
        if raw is None:
            self._json(400, {"errors": [{"message": "request body is not valid gzip"}]})
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._json(400, {"errors": [{"message": "request body is not JSON"}]})
            return
        app.graphql(self, body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        self._shaped("other" if path in ("/", "/healthz") else "download", lambda: self._get(path))

    def _get(self, path: str) -> None:
        if self._routed(b""):
            return
        if path in ("/", "/healthz"):
            self._send(200, b"ok", "text/plain")
            return
        found = self.server.app.download(path)
        if found is None:
            self._json(404, {"errors": [{"message": "not found"}]})
            return
        body, content_type = found
        headers = {"Accept-Ranges": "bytes"}
        try:
            chosen = byte_range(self.headers.get("Range"), len(body))
        except Unsatisfiable:
            self._send(416, b"", content_type, {**headers, "Content-Range": f"bytes */{len(body)}"},
                       compress=False)
            return
        if chosen is None:  # HEAD reports the identity length: what a ranged reader needs
            self._send(200, body, content_type, headers, compress=self.command != "HEAD")
            return
        first, last = chosen
        self._send(206, body[first:last + 1], content_type,
                   {**headers, "Content-Range": f"bytes {first}-{last}/{len(body)}"}, compress=False)

    do_HEAD = do_GET  # noqa: N815 - stdlib name


class LocalServer:
    """A W&B-compatible GraphQL server on 127.0.0.1, running in a background thread.

    Example::

        with LocalServer() as server:
            server.add_runs("local", "proj", [{"id": "a1", "config": {"lr": 0.1}}])
            api_url, key = server.url, server.api_key

    Args:
        port: port to bind (None or 0: a free port).
        api_key: the key accepted (Basic ``api:<key>`` or ``Bearer <key>``); default: random
            ``"local-" + 40 chars``.
        faults: optional :class:`Faults` injected into ``/graphql`` answers.
        entity: the viewer's default entity.
        username: the viewer's username.
        host: interface to bind.
        parquet_export: False models an older W&B server without history export:
            ``parquetHistory`` answers a GraphQL error and step-ranged history reads serve
            every row of every run.
        network: optional :class:`~wandb_frames.testing.network.Network`: latency on every
            request, a bandwidth cap on response bodies, a W&B-like rate limit on ``/graphql``
            (429 with ``Retry-After``). Counts of what was answered: :attr:`traffic`.
        churn: optional :class:`~wandb_frames.testing.churn.ListingChurn`: runs deleted,
            moved or added between the pages of a runs listing (consistency tests); what
            was changed: :attr:`churn_events`. Also settable later with :meth:`set_churn`.
    """

    def __init__(self, port: int | None = None, api_key: str | None = None, faults: Faults | None = None,
                 entity: str = "local", username: str = "local-user", host: str = "127.0.0.1",
                 parquet_export: bool = True, network: Network | None = None,
                 churn: ListingChurn | None = None) -> None:
        self._parquet_export = parquet_export
        self._port = port or 0
        self._host = host
        self._key = api_key or _random_key()
        self._token = secrets.token_hex(16)
        self.store = Store(entity, username)
        self.faults = FaultInjector(faults) if faults is not None else None
        self.network = NetworkShaper(network)
        self.traffic_counter = TrafficCounter()
        self._churner = ListingChurner(churn) if churn is not None else None
        self._log: deque[tuple[str | None, dict[str, Any]]] = deque(maxlen=_REQUEST_LOG_SIZE)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._data_dir: Path | None = None
        self._context: Context | None = None
        self.routes: dict[str, Route] = {}

    def __repr__(self) -> str:
        state = self.url if self._httpd else "stopped"
        return f"LocalServer({state}, entity={self.store.entity!r})"

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError("LocalServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    @property
    def api_key(self) -> str:
        """The API key this server accepts."""
        return self._key

    def start(self) -> LocalServer:
        """Bind and start serving in a daemon thread (idempotent)."""
        if self._httpd is not None:
            return self
        engine.load_schema()
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._data_dir = Path(tempfile.mkdtemp(prefix="wandb-frames-server-")).resolve()  # once, not per download
        self._context = Context(self.store, self.url, self._token, self._data_dir,
                                parquet_export=self._parquet_export, on_runs_page=self._runs_page_served)
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="wandb-frames-local-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the temporary files (idempotent)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
        self._httpd = self._thread = self._data_dir = self._context = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------ seeding
    def _project(self, entity: str, project: str) -> ProjectStore:
        return self.store.ensure_project(entity, project)[0]

    def add_runs(self, entity: str, project: str, records: Iterable[RunRecord]) -> None:
        """Store runs (replacing runs with the same ID); JSON strings are serialised here once."""
        self.store.put_runs(self._project(entity, project), records)

    def add_sweeps(self, entity: str, project: str, sweeps: Iterable[SweepRecord]) -> None:
        """Store sweeps (by ``id``)."""
        proj = self._project(entity, project)
        with self.store.lock:
            for rec in sweeps:
                proj.sweeps[rec["id"]] = rec
            self.store.touch(proj)

    def add_artifacts(self, entity: str, project: str, artifacts: Iterable[ArtifactRecord]) -> None:
        """Store artifact versions (``version`` defaults to the next index; ``latest`` maintained)."""
        proj = self._project(entity, project)
        with self.store.lock:
            proj.artifacts = normalize_artifacts(proj.artifacts, list(artifacts))
            self.store.touch(proj)

    def add_reports(self, entity: str, project: str, reports: Iterable[ReportRecord]) -> None:
        """Store reports (views of type ``runs``)."""
        proj = self._project(entity, project)
        with self.store.lock:
            proj.reports.extend(reports)
            self.store.touch(proj)

    def route(self, path: str, answer: Route | None) -> None:
        """Answer every request for ``path`` (exact, without query) with ``answer`` instead.

        ``answer`` is a :class:`~wandb_frames.testing.routes.Redirect` or an
        :class:`~wandb_frames.testing.routes.Echo`; None restores what the path served.
        """
        if answer is None:
            self.routes.pop(path, None)
        elif isinstance(answer, Redirect | Echo):
            self.routes[path] = answer
        else:
            raise TypeError(f"a route answers a Redirect or an Echo, not {answer!r}")

    # ------------------------------------------------------------ introspection for tests
    @property
    def requests(self) -> list[tuple[str | None, dict[str, Any]]]:
        """``(operation name, variables)`` of every authenticated ``/graphql`` request, in order."""
        return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._log.clear()

    @property
    def traffic(self) -> TrafficStats:
        """What the server answered so far: requests (total, ``/graphql``, downloads), 429s of
        the rate limit, answers by status, body bytes, the most requests in flight at once."""
        return self.traffic_counter.snapshot()

    def set_network(self, network: Network | None) -> None:
        """Change the network shape from the next request on (None: a plain loopback link)."""
        self.network = NetworkShaper(network)

    def set_churn(self, churn: ListingChurn | None) -> None:
        """Churn the runs listings from the next page on (pages counted from 1 again; None: stop)."""
        self._churner = ListingChurner(churn) if churn is not None else None

    @property
    def churn_events(self) -> list[ChurnEvent]:
        """The changes the current :class:`ListingChurn` applied, in order."""
        churner = self._churner
        return list(churner.events) if churner is not None else []

    @property
    def churn_pages(self) -> int:
        """Runs pages the current :class:`ListingChurn` counted so far."""
        churner = self._churner
        return churner.pages if churner is not None else 0

    def _runs_page_served(self, project: ProjectStore, operation: str | None) -> None:
        churner = self._churner
        if churner is not None:
            churner.note_page(project, operation)

    def reset_traffic(self) -> None:
        """Zero the :attr:`traffic` counters."""
        self.traffic_counter.reset()

    @property
    def fault_counts(self) -> dict[str, int]:
        """Injected faults so far by kind (all zero without ``faults``)."""
        if self.faults is None:
            return {"rate_limit": 0, "server_error": 0, "truncate": 0, "delay": 0}
        return dict(self.faults.counts)

    # ------------------------------------------------------------ request handling
    def authorized(self, header: str) -> bool:
        """Whether an ``Authorization`` header carries this server's key."""
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self._key.encode())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.encode(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            _, _, password = decoded.partition(":")
            return hmac.compare_digest(password.encode(), self._key.encode())
        return False

    def graphql(self, handler: _Handler, body: Any) -> None:
        """Answer one parsed ``/graphql`` body (faults first, then execution)."""
        context = self._context
        if context is None:
            handler._json(503, {"errors": [{"message": "server stopping"}]})
            return
        query = body.get("query") if isinstance(body, dict) else None
        variables = body.get("variables") if isinstance(body, dict) else None
        name = None
        if isinstance(query, str):
            name = engine.operation_name(engine.prepare(query), body.get("operationName"))
        self._log.append((name, dict(variables) if isinstance(variables, dict) else {}))
        decision = self.faults.decide(name) if self.faults is not None else None
        if decision is not None:
            if decision.delay:
                time.sleep(decision.delay)
            if decision.kind == "rate_limit":
                retry = f"{self.faults.faults.retry_after:g}" if self.faults else "1"
                handler._json(429, {"errors": [{"message": "rate limit exceeded"}]},
                              headers={"Retry-After": retry})
                return
            if decision.kind == "server_error":
                handler._json(decision.status, {"errors": [{"message": "injected server error"}]})
                return
        churner = self._churner
        try:
            _, reply = engine.execute_request(body, context)
        except Exception:  # a bug in a resolver must not kill the handler thread
            logger.exception("internal error while answering %s", name)
            if churner is not None:
                churner.discard_pending()
            handler._json(500, {"errors": [{"message": "internal server error"}], "data": None})
            return
        if churner is not None:  # the changes due after the pages this answer holds
            churner.apply_pending(self.store)
        answer = orjson.dumps(reply.payload, option=orjson.OPT_NON_STR_KEYS)
        most = self.network.network.max_answer_bytes
        if most is not None and len(answer) > most:  # the gateway gives up on an answer this large
            handler._json(502, {"errors": [{"message": f"bad gateway: the answer to {name} is too large"}]})
            return
        handler._send(reply.status, answer, truncate=decision is not None and decision.kind == "truncate")

    def download(self, path: str) -> tuple[bytes, str] | None:
        """Bytes and content type for a presigned-like GET URL (None when unknown)."""
        parts = [unquote(p) for p in path.split("/")[1:]]
        if len(parts) < 3 or not hmac.compare_digest(parts[1].encode(), self._token.encode()):
            return None
        if parts[0] == "parquet" and self._data_dir is not None:
            target = (self._data_dir / "/".join(parts[2:])).resolve()
            if self._data_dir in target.parents and target.is_file():
                return target.read_bytes(), "application/vnd.apache.parquet"
            return None
        if parts[0] == "artifacts":
            found = artifact_download(self.store, parts[2:])
            return None if found is None else (found, "application/octet-stream")
        if parts[0] == "files" and len(parts) >= 6:
            project = self.store.project(parts[2], parts[3])
            run = project.runs.get(parts[4]) if project else None
            data = (run.record.get("files") or {}).get("/".join(parts[5:])) if run else None
            if data is not None:
                return (data.encode() if isinstance(data, str) else data), "application/octet-stream"
        return None
