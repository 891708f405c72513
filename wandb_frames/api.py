"""``Api``: the entry point, mirroring ``wandb.Api`` (settings, paths, caches, runs)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gql import Client, GraphQLRequest
from graphql import DocumentNode, print_ast

from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.graphql import documents
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.transport import HttpTransport, RetryPolicy, operation_name
from wandb_frames.settings import Settings, resolve_settings

if TYPE_CHECKING:
    import requests

    from wandb_frames.runs import Run, Runs

__all__ = ["Api", "split_project_path", "split_run_path"]


def _path_parts(path: str) -> list[str]:
    text = (path or "").strip()
    if "://" in text:
        text = urlsplit(text).path
    return [p for p in text.strip("/").split("/") if p]


def split_project_path(path: str) -> tuple[str | None, str | None]:
    """Split ``"entity/project"``, ``"project"`` or ``""`` (also a W&B URL) into parts.

    Returns:
        ``(entity, project)``; a part the path does not give is None.

    Raises:
        ConfigurationError: The path has more than two parts.

    Examples:
        >>> split_project_path("my-team/my-project")
        ('my-team', 'my-project')
        >>> split_project_path("my-project")
        (None, 'my-project')
    """
    parts = _path_parts(path)
    if len(parts) > 2:
        raise ConfigurationError(f"project path {path!r} must look like 'entity/project'")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 1:
        return None, parts[0]
    return None, None


def split_run_path(path: str) -> tuple[str | None, str | None, str]:
    """Split ``"entity/project/run_id"`` (also ``…/runs/run_id``, ``project/run_id``, ``run_id``).

    Returns:
        ``(entity, project, run_id)``; entity/project are None when the path omits them.

    Raises:
        ConfigurationError: Empty path or too many parts.

    Examples:
        >>> split_run_path("e/p/runs/abc123")
        ('e', 'p', 'abc123')
        >>> split_run_path("p/abc123")
        (None, 'p', 'abc123')
    """
    parts = _path_parts(path)
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if not parts or len(parts) > 3:
        raise ConfigurationError(
            f"run path {path!r} must look like 'entity/project/run_id' (or 'project/run_id' "
            "with a default entity, or 'run_id' with default entity and project)"
        )
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    return None, None, parts[0]


class Api:
    """Query a W&B server; ``runs()`` returns typed, Arrow-backed frames.

    Args:
        overrides: May set ``base_url``, ``entity`` and ``project`` (defaults for paths).
        api_key: The API key; default ``WANDB_API_KEY``, then ``~/.netrc``.
        timeout: Seconds per HTTP attempt; default ``WANDB_HTTP_TIMEOUT`` or 30.
        user_agent: The ``User-Agent`` header; default ``wandb-frames/<version>``.
        retry: Retry policy for 429/5xx/connection errors (overall deadline included).
        progress: Progress bars: None = on in notebooks and terminals; True/False forces.
        concurrency: Parallel page fetches for ``runs()``; None = automatic.
        session: A ``requests.Session`` to send through (e.g. with proxies set).

    Caching: ``default_entity`` and ``viewer`` are fetched once; ``api.runs(...)`` with the
    same arguments returns the same :class:`~wandb_frames.runs.Runs` object, which keeps its
    first ``to_arrow()`` result. :meth:`flush` drops all of it.

    Examples:
        >>> import wandb_frames as wf
        >>> api = wf.Api(api_key="local-" + "a" * 40, overrides={"base_url": "http://127.0.0.1:1"})
        >>> api
        <Api http://127.0.0.1:1>
    """

    VIEWER_QUERY: GraphQLRequest = documents.VIEWER.request()
    """The viewer query (a gql request), as ``wandb.Api.VIEWER_QUERY``."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        api_key: str | None = None,
        timeout: float | None = None,
        user_agent: str | None = None,
        retry: RetryPolicy | None = None,
        progress: bool | None = None,
        concurrency: int | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.settings: Settings = resolve_settings(
            overrides, api_key=api_key, timeout=timeout, user_agent=user_agent
        )
        self.transport = HttpTransport(self.settings, retry=retry, session=session)
        self.progress = progress
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._default_entity: str | None = None
        self._viewer: dict[str, Any] | None = None
        self._runs_cache: dict[tuple[Any, ...], Runs] = {}
        self._texts: dict[int, tuple[DocumentNode, str]] = {}

    def __repr__(self) -> str:
        entity = f" entity={self.settings.entity}" if self.settings.entity else ""
        return f"<Api {self.settings.base_url}{entity}>"

    __str__ = __repr__

    # -- attributes mirrored from wandb.Api --------------------------------------------
    @property
    def api_key(self) -> str | None:
        """The API key in use (never shown in ``repr``)."""
        return self.settings.api_key

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header sent with every request."""
        return self.settings.user_agent

    @property
    def client(self) -> Client:
        """A ``gql.Client`` over the same transport (GraphQL errors raise ``GraphQLError``)."""
        with self._lock:
            if self._client is None:
                self._client = Client(transport=self.transport)
            return self._client

    @property
    def viewer(self) -> dict[str, Any]:
        """The authenticated user (``Viewer`` query), fetched once."""
        if self._viewer is None:
            data = self.execute(documents.VIEWER, {})
            viewer = data.get("viewer")
            if not isinstance(viewer, dict):
                raise NotFoundError(
                    "the server returned no viewer for this API key",
                    operation=documents.VIEWER.operation,
                    what="viewer",
                )
            self._viewer = viewer
        return self._viewer

    @property
    def default_entity(self) -> str:
        """The viewer's default entity (``GetDefaultEntity`` query), fetched once."""
        if self._default_entity is None:
            op = documents.DEFAULT_ENTITY.operation
            viewer = self.execute(documents.DEFAULT_ENTITY, {}).get("viewer")
            if not isinstance(viewer, dict):
                raise NotFoundError("the server returned no viewer", operation=op, what="viewer")
            entity = viewer.get("entity")
            if not isinstance(entity, str) or not entity:
                raise ProtocolError("the viewer has no default entity", operation=op)
            self._default_entity = entity
        return self._default_entity

    def flush(self) -> None:
        """Drop every cache this Api keeps (default entity, viewer, ``runs()`` objects)."""
        with self._lock:
            self._default_entity = None
            self._viewer = None
            self._runs_cache.clear()

    # -- executing documents -------------------------------------------------------------
    def execute(
        self,
        document: Document | DocumentNode,
        variables: Mapping[str, Any],
        *,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """Send one GraphQL operation and return its ``data``.

        Args:
            document: One of ours (:mod:`wandb_frames.graphql.documents`) or a parsed
                graphql-core document (printed once and cached).
            variables: The operation's variables.
            operation: The operation name (default: the document's first operation).

        Raises:
            ApiError: Any failure, typed (authentication, rate limit, GraphQL errors, …).
        """
        if isinstance(document, Document):
            return self.transport.post(document.text, operation or document.operation, variables)
        cached = self._texts.get(id(document))
        if cached is None or cached[0] is not document:
            cached = (document, print_ast(document))
            self._texts[id(document)] = cached
        return self.transport.post(cached[1], operation or operation_name(document), variables)

    # -- paths ---------------------------------------------------------------------------
    def resolve_entity(self, entity: str | None) -> str:
        """Return ``entity``, else ``overrides['entity']``/``WANDB_ENTITY``, else the viewer's."""
        return entity or self.settings.entity or self.default_entity

    def _project_or_default(self, project: str | None, path: str) -> str:
        project = project or self.settings.project
        if not project:
            raise ConfigurationError(
                f"path {path!r} names no project; use 'entity/project' or set "
                "overrides={'project': ...} / WANDB_PROJECT"
            )
        return project

    # -- runs ------------------------------------------------------------------------------
    def runs(
        self,
        path: str = "",
        filters: Mapping[str, Any] | str | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        *,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
        sep: str = ".",
        progress: bool | None = None,
        concurrency: int | None = None,
    ) -> Runs:
        """Return the runs of a project matching ``filters``, lazily (no request yet).

        Args:
            path: ``"entity/project"`` or ``"project"`` (default entity) or ``""``
                (default entity and project).
            filters: A MongoDB-style dict or a Python-expression string; validated now.
            order: ``"+created_at"``, ``"-summary_metrics.loss"``, ``"+config.lr"``, …
            per_page: Runs per request.
            limit: Stop after this many runs (None: all).
            columns: Keep only these frame columns; globs allowed (``"summary.*"``). Exact
                ``config.``/``summary.`` names are projected server-side.
            sep: Separator of nested column names.
            progress: Progress bar override (default: the Api's setting).
            concurrency: Parallel page fetches (default: the Api's setting).

        Returns:
            A :class:`~wandb_frames.runs.Runs`; the same object for the same arguments
            until :meth:`flush`.

        Raises:
            FilterError: ``filters`` or ``order`` is invalid (before any request).
            ConfigurationError: Malformed path or arguments.
        """
        from wandb_frames.runs import Runs

        entity, project = split_project_path(path)
        project = self._project_or_default(project, path)
        key = (
            entity or self.settings.entity,
            project,
            repr(filters),
            order,
            per_page,
            limit,
            tuple(columns) if columns is not None else None,
            sep,
            progress,
            concurrency,
        )
        with self._lock:
            cached = self._runs_cache.get(key)
        if cached is not None:
            return cached
        runs = Runs(
            self,
            entity,
            project,
            filters=filters,
            order=order,
            per_page=per_page,
            limit=limit,
            columns=columns,
            sep=sep,
            progress=self.progress if progress is None else progress,
            concurrency=self.concurrency if concurrency is None else concurrency,
        )
        with self._lock:
            return self._runs_cache.setdefault(key, runs)

    def run(self, path: str = "") -> Run:
        """Fetch one run by ``"entity/project/run_id"`` (one ``Run`` query).

        Raises:
            NotFoundError: The project or the run does not exist.
            ConfigurationError: Malformed path.
        """
        from wandb_frames.runs import Run

        entity, project, run_id = split_run_path(path)
        project = self._project_or_default(project, path)
        return Run.fetch(self, self.resolve_entity(entity), project, run_id)
