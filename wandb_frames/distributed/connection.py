"""What a partition carries to reach the server: a base URL and options, never the API key.

A :class:`Connection` is the picklable, key-free part of an ``Api``'s settings. Every task of
a Dask graph holds one; the worker that runs the task turns it into a :class:`WorkerSession`
with :func:`worker_session`, resolving the API key **in its own process**, first found wins:

1. a key registered in that process for the base URL (:func:`register_api_key`; ``to_dask()``
   registers the calling ``Api``'s key in the calling process, which covers the threaded and
   synchronous schedulers; :class:`~wandb_frames.distributed.plugin.ApiKeyPlugin` registers it
   on every worker of a ``distributed`` cluster);
2. ``WANDB_API_KEY`` in the worker's environment;
3. the worker's ``~/.netrc`` (or ``$NETRC``) entry for the base URL's host.

So the key is never part of a task's key, name, arguments or repr, nor of a pickled graph.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode

from wandb_frames.errors import ConfigurationError
from wandb_frames.graphql.answers import RawAnswer
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.session import Session
from wandb_frames.graphql.transport import HttpTransport, RetryPolicy
from wandb_frames.settings import Settings, resolve_settings

__all__ = ["Connection", "WorkerSession", "forget_api_keys", "register_api_key", "worker_session"]

_KEYS: dict[str, str] = {}
_SESSIONS: dict["Connection", "WorkerSession"] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Connection:
    """The server and transport options of a session, without its key (safe to pickle and print).

    Attributes:
        base_url: The W&B API root, e.g. ``https://api.wandb.ai``.
        timeout: Seconds per HTTP attempt.
        user_agent: The ``User-Agent`` header.
        retry: The retry policy of every request (the same as the caller's).
        entity: The default entity (for settings that need one; partitions name theirs).
    """

    base_url: str
    timeout: float
    user_agent: str
    retry: RetryPolicy
    entity: str | None = None

    @classmethod
    def of(cls, session: Session) -> Connection:
        """The connection of ``session`` (an ``Api``), registering its key in this process."""
        settings = session.settings
        if settings.api_key:
            register_api_key(settings.base_url, settings.api_key)
        return cls(
            base_url=settings.base_url,
            timeout=settings.timeout,
            user_agent=settings.user_agent,
            retry=session.transport.retry,
            entity=settings.entity,
        )

    def settings(self) -> Settings:
        """Settings for this connection, with the key this process resolves (see the module doc).

        Raises:
            ConfigurationError: No key was registered, and none is in the environment or netrc.
        """
        with _LOCK:
            key = _KEYS.get(self.base_url)
        resolved = resolve_settings({"base_url": self.base_url}, api_key=key, timeout=self.timeout,
                                    user_agent=self.user_agent)
        if not resolved.api_key:
            raise ConfigurationError(
                f"no API key for {self.base_url} in this worker: set WANDB_API_KEY or a ~/.netrc "
                "entry on the workers, or register it with "
                "client.register_plugin(wandb_frames.distributed.ApiKeyPlugin(api)) (docs/scale.md)"
            )
        return dataclasses.replace(resolved, entity=self.entity)


def register_api_key(base_url: str, api_key: str) -> None:
    """Keep ``api_key`` in this process's memory for requests to ``base_url`` (never written out)."""
    with _LOCK:
        if _KEYS.get(base_url) != api_key:
            _KEYS[base_url] = api_key
            for connection in [c for c in _SESSIONS if c.base_url == base_url]:
                del _SESSIONS[connection]  # sessions made with another key


def forget_api_keys() -> None:
    """Drop every registered key and the sessions made with them (tests, key rotation)."""
    with _LOCK:
        _KEYS.clear()
        _SESSIONS.clear()


class WorkerSession:
    """A :class:`~wandb_frames.graphql.session.Session` built in a worker from a :class:`Connection`.

    The same transport as ``Api`` (pooled connections, retries, rate-limit waits), no on-disk
    cache. One per connection and process (:func:`worker_session`), shared by its tasks.
    """

    cache = None

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._settings = connection.settings()
        self._transport = HttpTransport(self._settings, retry=connection.retry)

    def __repr__(self) -> str:
        return f"<WorkerSession {self.connection.base_url}>"

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def transport(self) -> HttpTransport:
        return self._transport

    def execute(
        self, document: Document | DocumentNode, variables: Mapping[str, Any], *, operation: str | None = None
    ) -> dict[str, Any]:
        return self._transport.execute_document(document, variables, operation=operation)

    def execute_raw(
        self, document: Document, variables: Mapping[str, Any], *, attempts: int | None = None
    ) -> RawAnswer:
        return self._transport.post_raw(document.text, document.operation, variables, attempts=attempts)

    def decode_answer(self, answer: RawAnswer) -> dict[str, Any]:
        return self._transport.decode_answer(answer)

    def resolve_entity(self, entity: str | None) -> str:
        resolved = entity or self._settings.entity
        if not resolved:
            raise ConfigurationError("a partition must name its entity")
        return resolved


def worker_session(connection: Connection) -> WorkerSession:
    """This process's session for ``connection`` (made on first use, then shared)."""
    with _LOCK:
        session = _SESSIONS.get(connection)
    if session is None:
        made = WorkerSession(connection)
        with _LOCK:
            session = _SESSIONS.setdefault(connection, made)
    return session
