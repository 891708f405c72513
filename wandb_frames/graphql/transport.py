"""HTTP transport: the one place where ``requests`` failures become wandb-frames errors.

:class:`HttpTransport` is a small ``gql`` sync transport over one pooled
``requests.Session`` (so it also backs ``Api.client``). It posts
``{"query", "variables", "operationName"}`` with Basic auth ``api:<key>``, parses the
answer with orjson, and applies the retry policy of :mod:`wandb_frames.graphql.retry`
(429 and 5xx, connection failures and truncated bodies are retried; a 200 carrying GraphQL
``errors`` raises :class:`~wandb_frames.errors.GraphQLError` at once).

The key goes only to the API's own origin (:mod:`wandb_frames.graphql.credentials`):
redirects are followed here, hop by hop, a GET that leaves the origin continues without
credentials and a POST is never redirected off it. Raised errors carry scrubbed messages
and chain no ``requests`` object (those keep the request that was sent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

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
from wandb_frames.graphql.credentials import (
    ApiKeyAuth,
    OriginSession,
    forget_credentials,
    origin,
    same_origin,
    scrub,
    scrub_value,
)
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    parse_retry_after,
    retry_delay,
    server_wait,
)
from wandb_frames.settings import Settings

__all__ = [
    "RETRYABLE_STATUS",
    "HttpTransport",
    "PendingAnswer",
    "RawAnswer",
    "RetryPolicy",
    "accept_encoding",
    "operation_name",
    "parse_retry_after",
    "retry_delay",
    "same_origin",
    "server_wait",
]

logger = logging.getLogger("wandb_frames.transport")

_MAX_MESSAGE = 500
_MAX_REDIRECTS = 10
_LOOPBACK_ENCODING = "identity"
_JSON_BODY = {"Content-Type": "application/json"}


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


def _where(url: str) -> str:
    """A URL to name in a message: scheme, host, port and path; no user info, no query (presigned
    download URLs carry signatures there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


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
        pool_size: int = 32,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.url = settings.graphql_url
        self._session = session
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._texts: dict[int, tuple[DocumentNode, str]] = {}
        self._auth = ApiKeyAuth(settings.base_url, settings.api_key)
        self.sleep: Callable[[float], None] = time.sleep
        self.request_count = 0
        self.limiter = AdaptiveLimit(initial=4, maximum=max(4, pool_size), slow_start=True)
        """Requests this client keeps in flight to the server (see :mod:`.concurrency`)."""
        self._reached = False  # any answer from the server yet (see RetryPolicy.connect_deadline)

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
        operation = request.operation_name or operation_name(document)
        data = self.post(self._text_of(document), operation, dict(request.variable_values or {}))
        return ExecutionResult(data=data)

    def _text_of(self, document: DocumentNode) -> str:
        """A parsed document's text, printed once (the last 256 documents are kept)."""
        key = id(document)
        with self._lock:
            cached = self._texts.get(key)
            if cached is None or cached[0] is not document:
                cached = (document, print_ast(document))
                if len(self._texts) > 256:
                    self._texts.clear()
                self._texts[key] = cached
        return cached[1]

    # -- fast path ---------------------------------------------------------------------
    def execute_document(
        self, document: Document | DocumentNode, variables: Mapping[str, Any], *, operation: str | None = None
    ) -> dict[str, Any]:
        """Send one of our documents (or a parsed one, printed once) and return its ``data``."""
        if isinstance(document, Document):
            return self.post(document.text, operation or document.operation, variables)
        return self.post(self._text_of(document), operation or operation_name(document), variables)

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
        # ``trust_env`` stays on (proxies and CA bundles from the environment keep working);
        # every request carries ``self._auth``, so requests never adds a ~/.netrc entry. It is
        # also the session's own auth, for code that uses ``transport.session`` directly.
        session = OriginSession()
        session.auth = self._auth
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

    def _require_key(self) -> None:
        if not self.settings.api_key:
            host = self.settings.base_url
            raise ConfigurationError(
                f"no W&B API key: pass Api(api_key=...), set WANDB_API_KEY, "
                f"or add the host of {host} to ~/.netrc"
            )

    def post(self, query: str, operation: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """POST one GraphQL operation with retries; return ``data`` or raise an ``ApiError``."""
        return self.decode_answer(self.post_raw(query, operation, variables))

    def post_raw(self, query: str, operation: str, variables: Mapping[str, Any], *, attempts: int | None = None,
                 ) -> RawAnswer:
        """POST one GraphQL operation with retries; return the answer's bytes, not yet parsed.

        HTTP failures raise as in :meth:`post`; GraphQL ``errors`` and malformed JSON are found by
        :meth:`decode_answer` (a caller may parse on another thread). ``attempts``: see ``RetryPolicy.capped``.
        """
        self._require_key()
        body = orjson.dumps(
            {"query": query, "variables": variables, "operationName": operation},
            option=orjson.OPT_NON_STR_KEYS,
        )
        response, content = self._send("POST", self.url, operation, body, dict(_JSON_BODY), attempts=attempts)
        return RawAnswer(content, operation, response.headers.get("Content-Type", ""))

    def post_pending(
        self, query: str, operation: str, variables: Mapping[str, Any], *, head: int = 8192
    ) -> PendingAnswer:
        """POST one GraphQL query with retries up to its first ``head`` bytes (see :class:`PendingAnswer`).

        The connection stays busy until the answer is read or closed; the pool opens others
        for requests sent meanwhile.
        """
        self._require_key()
        request = (query, operation, variables)
        body = orjson.dumps(
            {"query": query, "variables": variables, "operationName": operation},
            option=orjson.OPT_NON_STR_KEYS,
        )
        response, content = self._send("POST", self.url, operation, body, dict(_JSON_BODY), head=head)
        return PendingAnswer(self, response, content, request, complete=len(content) < head)

    def get_bytes(self, url: str, *, what: str = "file", compressed: bool = True) -> bytes:
        """GET a URL (a file download) with the same retry policy; the key only to the API's origin.

        Redirects are followed; a hop that leaves the API's origin carries no credentials.
        ``compressed=False`` asks for the body as stored (``Accept-Encoding: identity``): right
        for parquet and other already-compressed files, where gzip only costs CPU.
        """
        if same_origin(url, self.settings.base_url):
            self._require_key()
        headers = {} if compressed else {"Accept-Encoding": "identity"}
        return self._send("GET", url, f"GET {what}", None, headers)[1]

    def _send(
        self,
        method: str,
        url: str,
        operation: str,
        body: bytes | None,
        headers: dict[str, str],
        head: int | None = None, attempts: int | None = None,
    ) -> tuple[requests.Response, bytes]:
        """Send with retries (at most ``attempts``). Errors chain no ``requests`` object (they keep the request)."""
        policy = self.retry.capped(attempts)
        start = time.monotonic()
        attempt = throttled = 0
        while True:
            attempt += 1
            remaining = policy.deadline - (time.monotonic() - start)
            timeout = max(0.5, min(self.settings.timeout, remaining))
            retry_after: float | None = None
            failure = ""  # the scrubbed description of a retryable failure
            fatal = ""
            status = 0
            self.request_count += 1
            unreached = False
            try:
                response = self._follow(method, url, operation, body, headers, timeout)
                status = response.status_code
                content = b""
                if 200 <= status < 300:
                    content = read_body(response, head)
                else:  # read the error body (it frees the connection); kept in the response only
                    response.content  # noqa: B018
            except _RETRYABLE_ERRORS as exc:
                forget_credentials(exc)
                unreached = not self._reached and isinstance(exc, requests.ConnectionError)
                failure = self._scrub(f"{type(exc).__name__}: {exc}")
            except requests.RequestException as exc:
                forget_credentials(exc)
                fatal = self._scrub(f"{type(exc).__name__}: {exc}")
            else:
                self._reached = True
                if 200 <= status < 300:
                    self.limiter.healthy()
                    return response, content
                if status not in RETRYABLE_STATUS:
                    error = self._status_error(response, operation)
                    del response  # error reporters read frame locals: keep no response there
                    raise error
                retry_after = server_wait(response.headers)
            if fatal:
                raise TransportError(
                    f"{operation}: request to {self.settings.base_url} failed: {fatal}",
                    operation=operation,
                ) from None
            self.limiter.pushed_back(f"HTTP {status}" if status else failure.partition(":")[0])
            delay = retry_delay(attempt, policy, retry_after)
            elapsed = time.monotonic() - start
            if unreached:
                delay = min(delay, max(0.0, policy.connect_deadline - elapsed) / 2)
            deadline = policy.connect_deadline if unreached else policy.deadline
            if status == 429:
                throttled += 1  # a rate limit is waited out until the deadline, never counted
            if attempt - throttled >= policy.max_attempts or elapsed + delay > deadline or (
                unreached and delay < 0.05
            ):
                if failure:
                    raise TransportError(
                        f"{operation}: could not reach {_where(url)} after "
                        f"{attempt} attempts in {elapsed:.1f}s: {failure}",
                        operation=operation,
                    ) from None
                error = self._status_error(response, operation, attempts=attempt)
                del response
                raise error
            logger.info(
                "%s: attempt %d failed (%s); %s %.2fs",
                operation,
                attempt,
                f"HTTP {status}" if status else failure.partition(":")[0],
                "waiting as the server asks," if retry_after is not None else "retrying in",
                delay,
            )
            self.sleep(delay)

    def _follow(
        self,
        method: str,
        url: str,
        operation: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> requests.Response:
        """One attempt: send, following redirects by hand (``requests`` would re-add ~/.netrc
        credentials on each hop). A GET that leaves the API's origin continues without
        credentials; a POST (it carries the key and a body) follows only a 307/308 that stays
        on the origin, anything else raises :class:`HTTPStatusError`."""
        session = self.session
        for _ in range(_MAX_REDIRECTS + 1):
            response = session.request(
                method, url, data=body, headers=headers, timeout=timeout, stream=True,
                allow_redirects=False, auth=self._auth,
            )
            forget_credentials(response)
            target = session.get_redirect_target(response) if response.is_redirect else None
            if target is None:
                return response
            status = response.status_code
            response.close()
            del response
            next_url = urljoin(url, target)
            staying = same_origin(next_url, self.settings.base_url)
            if method != "GET" and not (staying and status in (307, 308)):
                where = "%s://%s:%s" % origin(next_url)
                raise HTTPStatusError(
                    self._scrub(
                        f"{operation}: the server redirected the {method} (HTTP {status}) to {where}; "
                        f"not followed, the API key goes only to {self.settings.base_url}. "
                        "Set base_url to the server's own address."
                    ),
                    operation=operation,
                    status_code=status,
                )
            logger.debug("%s: HTTP %d redirect to %s://%s:%s%s", operation, status, *origin(next_url),
                         "" if staying else " (no credentials)")
            url = next_url
        raise TransportError(
            f"{operation}: more than {_MAX_REDIRECTS} redirects from {self.settings.base_url}",
            operation=operation,
        )

    def _scrub(self, text: str) -> str:
        return scrub(text, self.settings.api_key)[:_MAX_MESSAGE]

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

    def _status_error(self, response: requests.Response, operation: str, *, attempts: int = 1) -> ApiError:
        """The error for a non-2xx answer (its body read, scrubbed and closed)."""
        status = response.status_code
        detail = self._server_messages(response)
        retry_after = server_wait(response.headers)
        response.close()
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
                retry_after=retry_after,
            )
        else:
            hint = " (is base_url right?)" if status == 404 else ""
            error = HTTPStatusError(
                f"{operation}: HTTP {status}{after}{hint}{tail}",
                operation=operation,
                status_code=status,
            )
        return error

    def decode_answer(self, answer: RawAnswer) -> dict[str, Any]:
        """Parse a :meth:`post_raw` answer; return ``data`` or raise ``GraphQLError``/``ProtocolError``.

        The error is built in :meth:`_decode` and raised here with nothing of the raw answer
        left in this frame's locals (the body may echo what the server received).
        """
        decoded = self._decode(answer)
        if isinstance(decoded, ApiError):
            del answer
            raise decoded
        return decoded

    def _decode(self, answer: RawAnswer) -> dict[str, Any] | ApiError:
        operation = answer.operation
        try:
            payload = orjson.loads(answer.content)
        except orjson.JSONDecodeError:  # its ``doc`` is the whole body: not chained
            return ProtocolError(
                f"{operation}: the server answered non-JSON "
                f"({answer.content_type or 'no content type'})",
                operation=operation,
            )
        if not isinstance(payload, dict):
            return ProtocolError(f"{operation}: the answer is not a JSON object", operation=operation)
        errors = payload.get("errors")
        if errors:
            key = self.settings.api_key
            errs = scrub_value(errors if isinstance(errors, list) else [errors], key)
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errs]
            return GraphQLError(
                f"{operation} failed: {self._scrub('; '.join(messages))}",
                operation=operation,
                errors=errs,
                data=scrub_value(payload.get("data"), key),
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            return ProtocolError(f"{operation}: the answer has no 'data'", operation=operation)
        return data
