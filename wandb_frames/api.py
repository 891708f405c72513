"""``Api``: the entry point, mirroring ``wandb.Api`` (settings, paths, caches, runs).

Why this module is long: one class with one method per ``wandb.Api`` member (with wandb's
signatures and docstrings), each a few lines that check arguments and hand over to
:mod:`wandb_frames.resources`; splitting the class would scatter the surface it mirrors.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gql import Client, GraphQLRequest
from graphql import DocumentNode

from wandb_frames.resources import artifact_types, artifacts, base, projects, reports, sweeps
from wandb_frames.cache.store import RunsCache, resolve_cache
from wandb_frames.resources.api_extras import ApiExtras
from wandb_frames.resources.compat import User
from wandb_frames.resources.artifact_types import ArtifactType, ArtifactTypes
from wandb_frames.resources.artifacts import Artifact, Artifacts
from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError, UnsupportedFeatureError
from wandb_frames.filters import parse_filter, parse_order
from wandb_frames.graphql import documents
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.transport import (
    HttpTransport,
    PendingAnswer,
    RawAnswer,
    RetryPolicy,
)
from wandb_frames.graphql.retry import with_retry_limits
from wandb_frames.resources.projects import Project, Projects
from wandb_frames.resources.reports import Reports
from wandb_frames.resources.run import Run
from wandb_frames.resources.runs import Runs
from wandb_frames.settings import Settings, app_url, resolve_settings
from wandb_frames.resources.sweeps import Sweep, Sweeps

if TYPE_CHECKING:
    import os

    import requests

__all__ = ["Api", "split_project_path", "split_run_path"]


def split_project_path(path: str) -> tuple[str | None, str | None]:
    """Split ``"entity/project"``, ``"project"`` or ``""`` (also a W&B URL) into parts.

    Returns:
        ``(entity, project)``; a part the path does not give is None.

    Raises:
        ConfigurationError: The path has more than two parts or an empty part.

    Examples:
        >>> split_project_path("my-team/my-project")
        ('my-team', 'my-project')
        >>> split_project_path("my-project")
        (None, 'my-project')
    """
    parts = base.parse_path(path, kind="project")
    return parts.entity, parts.project


def split_run_path(path: str) -> tuple[str | None, str | None, str]:
    """Split ``"entity/project/run_id"`` (also ``…/runs/run_id``, ``project/run_id``, ``run_id``).

    Returns:
        ``(entity, project, run_id)``; entity/project are None when the path omits them.

    Raises:
        ConfigurationError: Empty path, an empty part or too many parts.

    Examples:
        >>> split_run_path("e/p/runs/abc123")
        ('e', 'p', 'abc123')
        >>> split_run_path("p/abc123")
        (None, 'p', 'abc123')
    """
    parts = base.parse_path(path, kind="run")
    if not parts.id:
        raise ConfigurationError(
            f"run path {path!r} must look like 'entity/project/run_id' (or 'project/run_id' "
            "with a default entity, or 'run_id' with default entity and project)"
        )
    return parts.entity, parts.project, parts.id


def _without_version(name: object) -> object:
    """``"e/p/model:v3"`` → ``"e/p/model"`` (the path part of an artifact name)."""
    return name.split(":", 1)[0] if isinstance(name, str) else name


class Api(ApiExtras):
    """Query a W&B server; ``runs()`` returns typed, Arrow-backed frames.

    Args:
        overrides: May set ``base_url``, ``entity`` and ``project`` (defaults for paths).
        api_key: The API key; default ``WANDB_API_KEY``, then ``~/.netrc``.
        timeout: Seconds per HTTP attempt; default ``WANDB_HTTP_TIMEOUT`` or 30.
        user_agent: The ``User-Agent`` header; default ``wandb-frames/<version>``.
        retry: Retry policy for 429/5xx/connection errors (overall deadline included);
            default :class:`~wandb_frames.graphql.retry.RetryPolicy` ``()``: 7 retries within
            120 s per request (a 429 is waited out and never counted).
        max_retries: Retries per request after the first attempt (0: none); overrides
            ``retry.max_attempts``.
        retry_deadline: Seconds one request may take, all attempts and waits included;
            overrides ``retry.deadline``.
        progress: Progress bars: None = on in notebooks and terminals; True/False forces.
        concurrency: Parallel page fetches for ``runs()``; None = automatic.
        session: A ``requests.Session`` to send through (e.g. with proxies set).
        cache: The on-disk runs cache (``docs/cache.md``): None/False = off, True = the
            default directory (``WANDB_FRAMES_CACHE_DIR`` or the user cache dir), a path,
            or a :class:`~wandb_frames.cache.store.RunsCache`.

    Caching: ``default_entity`` and ``viewer`` are fetched once; ``api.runs(...)`` with the
    same arguments returns the same :class:`~wandb_frames.resources.runs.Runs` object, which keeps its
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
        max_retries: int | None = None,
        retry_deadline: float | None = None,
        progress: bool | None = None,
        concurrency: int | None = None,
        session: requests.Session | None = None,
        cache: bool | str | os.PathLike[str] | RunsCache | None = None,
    ) -> None:
        self.settings: Settings = resolve_settings(
            overrides, api_key=api_key, timeout=timeout, user_agent=user_agent
        )
        retry = with_retry_limits(retry, max_retries=max_retries, deadline=retry_deadline)
        self.transport = HttpTransport(self.settings, retry=retry, session=session)
        self.progress = progress
        self.concurrency = concurrency
        self.cache: RunsCache | None = resolve_cache(cache)
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._default_entity: str | None = None
        self._viewer: dict[str, Any] | None = None
        self._runs_cache: dict[tuple[Any, ...], Runs] = {}

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
    def viewer(self) -> User:
        """The authenticated user as a :class:`~wandb_frames.resources.compat.User` (``Viewer`` query,
        fetched once), as ``wandb``; ``api.viewer._attrs`` holds every field the server sent."""
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
        return User(self._viewer)

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

    def flush(self, *, clear_cache: bool = False) -> None:
        """Drop every cache this Api keeps (default entity, viewer, ``runs()`` objects).

        Args:
            clear_cache: Also delete the on-disk runs cache files (``Api(cache=...)``).
        """
        with self._lock:
            self._default_entity = None
            self._viewer = None
            self._runs_cache.clear()
        if self.cache is not None:
            if clear_cache:
                self.cache.clear()
            else:
                self.cache.forget()

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
        return self.transport.execute_document(document, variables, operation=operation)

    def execute_raw(
        self, document: Document, variables: Mapping[str, Any], *, attempts: int | None = None
    ) -> RawAnswer:
        """Send one of our documents; return the answer unparsed (see :meth:`decode_answer`).

        HTTP failures raise as in :meth:`execute`; GraphQL errors only when decoded.
        ``attempts``: at most this many tries for this request (None: the retry policy's); a
        caller that can ask differently after a failure (smaller batches) gives up sooner.
        """
        return self.transport.post_raw(document.text, document.operation, variables, attempts=attempts)

    def execute_pending(self, document: Document, variables: Mapping[str, Any]) -> PendingAnswer:
        """Send one of our queries; return once its first bytes arrived (see ``PendingAnswer``)."""
        return self.transport.post_pending(document.text, document.operation, variables)

    def decode_answer(self, answer: RawAnswer) -> dict[str, Any]:
        """Parse an :meth:`execute_raw` answer into ``data`` (GraphQL ``errors`` raise)."""
        return self.transport.decode_answer(answer)

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
        path: str | None = None,
        filters: Mapping[str, Any] | str | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = False,
        lazy: bool = True,
        *,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
        sep: str = ".",
        progress: bool | None = None,
        concurrency: int | None = None,
        offline: bool = False,
    ) -> Runs:
        """Return the runs of a project matching ``filters``, lazily (no request yet).

        Args:
            path: ``"entity/project"`` or ``"project"`` (default entity) or ``""``
                (default entity and project).
            filters: A MongoDB-style dict or a Python-expression string; validated now.
            order: ``"+created_at"``, ``"-summary_metrics.loss"``, ``"+config.lr"``, …
            per_page: Runs per request.
            include_sweeps: Accepted as ``wandb``'s: ``run.sweep`` works either way (loaded on
                first access, one request per sweep).
            lazy: Accepted as ``wandb``'s: iterated runs load ``config``/``summary`` with the
                listing unless ``columns=`` leaves them out.
            limit: Stop after this many runs (None: all).
            columns: Keep only these frame columns; globs allowed (``"summary.*"``). Exact
                ``config.``/``summary.`` names are projected server-side.
            sep: Separator of nested column names.
            progress: Progress bar override (default: the Api's setting).
            concurrency: Parallel page fetches (default: the Api's setting).
            offline: Answer from the on-disk cache only, without any request
                (``CacheError`` when it cannot answer; see ``docs/cache.md``).

        Returns:
            A :class:`~wandb_frames.resources.runs.Runs`; the same object for the same arguments
            until :meth:`flush`.

        Raises:
            FilterError: ``filters`` or ``order`` is invalid (before any request).
            ConfigurationError: Malformed path or arguments.
        """
        path = path or ""
        entity, project = split_project_path(path)
        project = self._project_or_default(project, path)
        # Validate first (FilterError, before any request): repr() of an invalid filter may
        # fail, and an unhashable order cannot be part of the key.
        parse_filter(filters)
        parse_order(order)
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
            offline,
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
            offline=offline,
            include_sweeps=include_sweeps,
            lazy=lazy,
        )
        with self._lock:
            return self._runs_cache.setdefault(key, runs)

    def run(self, path: str = "") -> Run:
        """Fetch one run by ``"entity/project/run_id"`` (one ``Run`` query).

        Raises:
            NotFoundError: The project or the run does not exist.
            ConfigurationError: Malformed path.
        """
        entity, project, run_id = split_run_path(path)
        project = self._project_or_default(project, path)
        return Run.fetch(self, self.resolve_entity(entity), project, run_id)

    # -- the rest of wandb.Api's surface ----------------------------------------------------
    @property
    def app_url(self) -> str:
        """The W&B app URL that belongs to the API base URL (for ``url`` attributes)."""
        return app_url(self.settings.base_url)

    def _entity_default(self) -> str | None:
        """The entity for paths that omit it; None only if the server has no default."""
        return self.settings.entity or self.default_entity

    def projects(self, entity: str | None = None, per_page: int = 200) -> Projects:
        """The projects of ``entity`` (default: the default entity), lazily.

        Raises:
            ConfigurationError: No entity given and no default entity (a ``ValueError``).
        """
        if entity is None:
            entity = self._entity_default()
        return projects.list_projects(self, entity, per_page, app_url=self.app_url)

    def project(self, name: str, entity: str | None = None) -> Project:
        """One project (``GetProject``).

        Raises:
            NotFoundError: The project does not exist.
        """
        return projects.get_project(
            self, entity or self._entity_default() or "", name, app_url=self.app_url
        )

    def _runs_factory(self, entity: str, project: str) -> sweeps.RunsFactory:
        def factory(filters: Mapping[str, Any], order: str | None) -> Runs:
            return self.runs(f"{entity}/{project}", filters=dict(filters), order=order or "+created_at")

        return factory

    def sweep(self, path: str = "") -> Sweep:
        """One sweep by ``"entity/project/sweep_id"`` (shorter forms use the defaults).

        Raises:
            NotFoundError: The project or sweep does not exist.
            ConfigurationError: Malformed path (before any request).
        """
        entity, project, sweep_id = base.split_object_path(
            path, kind="sweep", default_entity=self._lazy_entity(path, "sweep"),
            default_project=self.settings.project,
        )
        return sweeps.get_sweep(
            self, entity, project, sweep_id, self._runs_factory(entity, project), app_url=self.app_url
        )

    def sweeps(self, path: str = "", per_page: int = 50) -> Sweeps:
        """The sweeps of a project, lazily."""
        entity, project = base.split_project_path(
            path or None, default_entity=self._lazy_entity(path, "project"), default_project=self.settings.project
        )
        return sweeps.list_sweeps(
            self, entity, project, per_page, self._runs_factory(entity, project), app_url=self.app_url
        )

    def _lazy_entity(self, path: object, kind: str) -> str | None:
        """The default entity, asked of the server only when ``path`` does not name one.

        A malformed path raises ``ConfigurationError`` here, before any request.
        """
        named = base.parse_path(path, kind=kind).entity is not None
        return self.settings.entity if named else self._entity_default()

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """One artifact by ``"entity/project/name:version"``, ``"name:alias"`` or a digest.

        Raises:
            NotFoundError: No such artifact (or it is not of ``type``).
            ConfigurationError: Malformed name (before any request).
        """
        path = base.parse_artifact_name(
            name, default_entity=self._lazy_entity(_without_version(name), "artifact"), default_project=self.settings.project
        )
        return artifacts.get_artifact(self, path, type)

    def artifact_types(self, project: str | None = None, start: str | None = None) -> ArtifactTypes:
        """The artifact types of a project, lazily (``start``, a page cursor, is not offered)."""
        if start is not None:
            raise UnsupportedFeatureError("Api.artifact_types(start=...) (a wandb.Api feature) is not supported "
                                          "by wandb-frames: it lists every type", feature="Api.artifact_types(start)")
        return artifact_types.artifact_types(
            self, project, default_entity=self._lazy_entity(project, "project"),
            default_project=self.settings.project,
        )

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        """One artifact type of a project.

        Raises:
            NotFoundError: The project or type does not exist.
        """
        return artifact_types.artifact_type(
            self, type_name, project, default_entity=self._lazy_entity(project, "project"),
            default_project=self.settings.project,
        )

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> Artifacts:
        """The versions of the artifact collection ``name`` (``"entity/project/name"``)."""
        entity, project, collection = base.split_object_path(
            name, kind="artifact", default_entity=self._lazy_entity(name, "artifact"),
            default_project=self.settings.project or "uncategorized",
        )
        return artifacts.artifact_versions(self, entity, project, type_name, collection, per_page)

    def reports(self, path: str = "", name: str | None = None, per_page: int = 50) -> Reports:
        """The reports of a project (beta in W&B: the report format may change)."""
        entity, project = base.split_project_path(
            path or None, default_entity=self._lazy_entity(path, "project"), default_project=self.settings.project
        )
        return reports.list_reports(self, entity, project, name, per_page, app_url=self.app_url)

    def create_run(
        self,
        *,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
        state: str = "running",
    ) -> Run:
        """Create a run on the server (``upsertBucket``) and return it.

        Raises:
            ConfigurationError: Bad arguments (before any request).
        """
        node = projects.create_run(
            self, entity or self.resolve_entity(None), project or self.settings.project,
            run_id=run_id, state=state,
        )
        owner = node["project"]
        return self.run(f"{owner['entity']['name']}/{owner['name']}/{node['name']}")
