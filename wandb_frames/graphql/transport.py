"""HTTP transport: the one place where ``requests`` failures become wandb-frames errors.

:class:`HttpTransport` is a small ``gql`` sync transport over one pooled
``requests.Session`` (so it also backs ``Api.client``). It posts
``{"query", "variables", "operationName"}`` with Basic auth ``api:<key>``, parses the
answer with orjson, and applies the retry policy:

- retried: 429 (honouring ``Retry-After`` in seconds or as an HTTP date), 500, 502, 503,
  504, connection errors/timeouts and truncated bodies, with exponential backoff plus jitter, bounded by
  ``RetryPolicy.max_attempts`` and an overall ``RetryPolicy.deadline``;
- never retried: any other status (400, 401, 403, 404, …) and a 200 carrying GraphQL
  ``errors`` (raised at once as :class:`~wandb_frames.errors.GraphQLError`).
"""

from __future__ import annotations

import base64
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import orjson
import requests
from gql import GraphQLRequest
from gql.transport import Transport
from graphql import DocumentNode, ExecutionResult, OperationDefinitionNode, print_ast
from requests.adapters import HTTPAdapter

from wandb_frames.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    GraphQLError,
    HTTPStatusError,
    ProtocolError,
    RateLimitError,
    TransportError,
)
from wandb_frames.graphql.answers import RETRYABLE_ERRORS as _RETRYABLE_ERRORS
from wandb_frames.graphql.answers import PendingAnswer, RawAnswer, read_body
from wandb_frames.graphql.documents import Document
from wandb_frames.settings import Settings

__all__ = [
    "RETRYABLE_STATUS",
    "HttpTransport",
    "PendingAnswer",
    "RawAnswer",
    "RetryPolicy",
    "accept_encoding",
    "parse_retry_after",
    "operation_name",
    "retry_delay",
]

logger = logging.getLogger("wandb_frames.transport")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Connection failures, timeouts and bodies cut short (truncated transfer) are retried.
_MAX_MESSAGE = 500
_LOOPBACK_ENCODING = "identity"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried.

    Attributes:
        max_attempts: Attempts per request, the first included.
        deadline: Seconds allowed for one request, all attempts and waits included.
        base_delay: The first backoff wait; attempt ``n`` waits ``base_delay * 2**(n-1)``.
        max_delay: Cap of one backoff wait (a server's ``Retry-After`` is honoured as given).
        jitter: Relative random extra wait, ``U[0, jitter]`` times the backoff.
    """

    max_attempts: int = 8
    deadline: float = 120.0
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.25


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (delta seconds or an HTTP date) into seconds.

    Args:
        value: The header value, or None.
        now: The current time for HTTP dates (default: now, UTC).

    Returns:
        Non-negative seconds, or None when absent or unparseable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The server's ``Retry-After`` (or ``RateLimit-Reset``) wins when given, uncapped: the
    caller's overall deadline decides whether waiting that long is allowed; otherwise
    ``min(max_delay, base_delay * 2**(attempt-1)) * (1 + jitter * U[0,1))``.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    backoff = min(policy.max_delay, policy.base_delay * 2.0 ** max(0, attempt - 1))
    return backoff * (1.0 + policy.jitter * rand())


def server_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: ``Retry-After``, else ``RateLimit-Reset`` (W&B sends both)."""
    wait = parse_retry_after(headers.get("Retry-After"))
    return wait if wait is not None else parse_retry_after(headers.get("RateLimit-Reset"))


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the API server itself (same scheme, host, port and path root).

    Credentials are attached only then: a download URL that merely *starts with* the base
    URL's text (``http://host:4123`` vs ``http://host:41234``) is another server.
    """
    target, base = urlsplit(url), urlsplit(base_url)
    if (target.scheme, target.hostname, target.port) != (base.scheme, base.hostname, base.port):
        return False
    root = base.path.rstrip("/")
    return not root or target.path == root or target.path.startswith(root + "/")


def accept_encoding(base_url: str) -> str:
    """The ``Accept-Encoding`` the transport sends to ``base_url``.

    ``gzip, deflate`` for remote servers; ``identity`` for a loopback host (``localhost``,
    ``127.0.0.0/8``, ``::1``), where compressing costs CPU on both ends and saves nothing.

    Examples:
        >>> accept_encoding("https://api.wandb.ai")
        'gzip, deflate'
        >>> accept_encoding("http://127.0.0.1:8080")
        'identity'
    """
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host == "::1" or host.startswith("127."):
        return _LOOPBACK_ENCODING
    return "gzip, deflate"


def operation_name(document: DocumentNode) -> str:
    """Return the name of the first named operation in ``document`` (or ``""``)."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
            return definition.name.value
    return ""


class HttpTransport(Transport):
    """A sync gql transport over a pooled ``requests.Session`` with typed errors and retries.

    Args:
        settings: Base URL, API key, per-attempt timeout and User-Agent.
        retry: The retry policy (default :class:`RetryPolicy`).
        session: A session to use instead of a new one.
        pool_size: Connections kept per host (concurrent page fetches need several).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        pool_size: int = 16,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.url = settings.graphql_url
        self._session = session
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._texts: dict[int, tuple[DocumentNode, str]] = {}
        self.sleep: Callable[[float], None] = time.sleep
        self.request_count = 0

    def __repr__(self) -> str:
        return f"<HttpTransport {self.url}>"

    # -- gql Transport API -------------------------------------------------------------
    def connect(self) -> None:
        """Create the pooled session (idempotent; gql calls this around each execute)."""
        self.session  # noqa: B018  # creating the session is the side effect

    def close(self) -> None:
        """Keep the pool open: gql closes after every ``Client.execute``; see :meth:`shutdown`."""

    def shutdown(self) -> None:
        """Close the HTTP connection pool; a later request opens a new one."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def execute(self, request: GraphQLRequest, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Send a gql request; GraphQL ``errors`` raise :class:`GraphQLError` instead of returning."""
        document = request.document
        key = id(document)
        cached = self._texts.get(key)
        if cached is None or cached[0] is not document:
            cached = (document, print_ast(document))
            if len(self._texts) > 256:
                self._texts.clear()
            self._texts[key] = cached
        operation = request.operation_name or operation_name(document)
        data = self.post(cached[1], operation, dict(request.variable_values or {}))
        return ExecutionResult(data=data)

    # -- fast path ---------------------------------------------------------------------
    def execute_document(self, document: Document, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Send one of our documents and return its ``data`` (the path ``Api`` uses)."""
        return self.post(document.text, document.operation, variables)

    @property
    def session(self) -> requests.Session:
        """The pooled ``requests.Session`` (created on first use)."""
        session = self._session
        if session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._new_session()
                session = self._session
        return session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(
            {
                "User-Agent": self.settings.user_agent,
                "Accept-Encoding": accept_encoding(self.settings.base_url),
                "Accept": "application/json",
            }
        )
        return session

    def _auth_headers(self) -> dict[str, str]:
        key = self.settings.api_key
        if not key:
            host = self.settings.base_url
            raise ConfigurationError(
                f"no W&B API key: pass Api(api_key=...), set WANDB_API_KEY, "
                f"or add the host of {host} to ~/.netrc"
            )
        token = base64.b64encode(f"api:{key}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def post(self, query: str, operation: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """POST one GraphQL operation with retries; return ``data`` or raise an ``ApiError``."""
        return self.decode_answer(self.post_raw(query, operation, variables))

    def post_raw(self, query: str, operation: str, variables: Mapping[str, Any]) -> RawAnswer:
        """POST one GraphQL operation with retries; return the answer's bytes, not yet parsed.

        HTTP failures raise as in :meth:`post`; GraphQL ``errors`` and malformed JSON are
        found by :meth:`decode_answer` (so a caller can parse the answer on another thread).
        """
        body = orjson.dumps(
            {"query": query, "variables": variables, "operationName": operation},
            option=orjson.OPT_NON_STR_KEYS,
        )
        response, content = self._send("POST", self.url, operation, body, self._auth_headers())
        return RawAnswer(content, operation, response.headers.get("Content-Type", ""))

    def post_pending(
        self, query: str, operation: str, variables: Mapping[str, Any], *, head: int = 8192
    ) -> PendingAnswer:
        """POST one GraphQL query with retries up to its first ``head`` bytes (see :class:`PendingAnswer`).

        The connection stays busy until the answer is read or closed; the pool opens others
        for requests sent meanwhile.
        """
        request = (query, operation, variables)
        body = orjson.dumps(
            {"query": query, "variables": variables, "operationName": operation},
            option=orjson.OPT_NON_STR_KEYS,
        )
        response, content = self._send(
            "POST", self.url, operation, body, self._auth_headers(), head=head
        )
        return PendingAnswer(self, response, content, request, complete=len(content) < head)

    def get_bytes(self, url: str, *, what: str = "file", compressed: bool = True) -> bytes:
        """GET a URL (a file download) with the same retry policy; auth only on the base URL.

        ``compressed=False`` asks for the body as stored (``Accept-Encoding: identity``): right
        for parquet and other already-compressed files, where gzip only costs CPU.
        """
        headers = self._auth_headers() if same_origin(url, self.settings.base_url) else {}
        headers.pop("Content-Type", None)
        if not compressed:
            headers["Accept-Encoding"] = "identity"
        return self._send("GET", url, f"GET {what}", None, headers)[1]

    def _send(
        self,
        method: str,
        url: str,
        operation: str,
        body: bytes | None,
        headers: dict[str, str],
        head: int | None = None,
    ) -> tuple[requests.Response, bytes]:
        policy = self.retry
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            remaining = policy.deadline - (time.monotonic() - start)
            timeout = max(0.5, min(self.settings.timeout, remaining))
            retry_after: float | None = None
            failure: requests.RequestException | None = None
            status = 0
            self.request_count += 1
            try:
                response = self.session.request(
                    method, url, data=body, headers=headers, timeout=timeout, stream=True
                )
                ok = 200 <= response.status_code < 300
                content = read_body(response, head) if ok else response.content
                status = response.status_code
            except _RETRYABLE_ERRORS as exc:
                failure = exc
            except requests.RequestException as exc:
                raise TransportError(
                    f"{operation}: request to {self.settings.base_url} failed: "
                    f"{self._scrub(str(exc))}",
                    operation=operation,
                ) from exc
            else:
                if 200 <= status < 300:
                    return response, content
                if status not in RETRYABLE_STATUS:
                    self._raise_status(response, operation)
                retry_after = server_wait(response.headers)
            delay = retry_delay(attempt, policy, retry_after)
            elapsed = time.monotonic() - start
            if attempt >= policy.max_attempts or elapsed + delay > policy.deadline:
                if failure is not None:
                    raise TransportError(
                        f"{operation}: could not reach {self.settings.base_url} after "
                        f"{attempt} attempts in {elapsed:.1f}s: {self._scrub(str(failure))}",
                        operation=operation,
                    ) from failure
                self._raise_status(response, operation, attempts=attempt)
            logger.debug(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                operation,
                attempt,
                status or type(failure).__name__,
                delay,
            )
            self.sleep(delay)

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        if key and key in text:
            text = text.replace(key, "***")
        return text[:_MAX_MESSAGE]

    def _server_messages(self, response: requests.Response) -> str:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return self._scrub(response.text.strip())
        if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
            messages = [
                str(e.get("message", e)) if isinstance(e, dict) else str(e)
                for e in payload["errors"]
            ]
            return self._scrub("; ".join(messages))
        return self._scrub(response.text.strip())

    def _raise_status(
        self, response: requests.Response, operation: str, *, attempts: int = 1
    ) -> NoReturn:
        status = response.status_code
        detail = self._server_messages(response)
        tail = f": {detail}" if detail else ""
        after = f" after {attempts} attempts" if attempts > 1 else ""
        error: ApiError
        if status in (401, 403):
            error = AuthenticationError(
                f"{operation}: the server refused the API key (HTTP {status}){tail}. "
                "Check api_key=, WANDB_API_KEY or ~/.netrc, and that the key can read this entity.",
                operation=operation,
                status_code=status,
            )
        elif status == 429:
            error = RateLimitError(
                f"{operation}: rate limited (HTTP 429){after}; wait and retry, "
                "or lower per_page/concurrency",
                operation=operation,
                retry_after=server_wait(response.headers),
            )
        else:
            hint = " (is base_url right?)" if status == 404 else ""
            error = HTTPStatusError(
                f"{operation}: HTTP {status}{after}{hint}{tail}",
                operation=operation,
                status_code=status,
            )
        try:
            response.raise_for_status()
        except requests.HTTPError as exc:
            raise error from exc
        raise error

    def decode_answer(self, answer: RawAnswer) -> dict[str, Any]:
        """Parse a :meth:`post_raw` answer; return ``data`` or raise ``GraphQLError``/``ProtocolError``."""
        operation = answer.operation
        try:
            payload = orjson.loads(answer.content)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(
                f"{operation}: the server answered non-JSON "
                f"({answer.content_type or 'no content type'})",
                operation=operation,
            ) from exc
        if not isinstance(payload, dict):
            raise ProtocolError(f"{operation}: the answer is not a JSON object", operation=operation)
        errors = payload.get("errors")
        if errors:
            errs = errors if isinstance(errors, list) else [errors]
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errs]
            raise GraphQLError(
                f"{operation} failed: {self._scrub('; '.join(messages))}",
                operation=operation,
                errors=errs,
                data=payload.get("data"),
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ProtocolError(f"{operation}: the answer has no 'data'", operation=operation)
        return data
