"""Projects and writes into them: ``Api.projects``, ``Api.project``, ``Api.create_run``, ``Run.update``.

In W&B's backend vocabulary a project is a "model" and a run a "bucket": the list comes
from the ``models`` root field, one Relay page per request, and both writes are the
``upsertBucket`` mutation.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from wandb_frames.resources.base import (
    DEFAULT_APP_URL,
    Collection,
    check_datetime,
    check_name,
    check_per_page,
    dig,
    parse_datetime,
    parse_json_string,
)
from wandb_frames.errors import ConfigurationError, ProtocolError, UnsupportedFeatureError
from wandb_frames.resources.compat import CLOUD_ONLY, NotebookDisplay, User
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages, resolve_connection

__all__ = ["Project", "Projects", "create_run", "get_project", "list_projects", "update_run"]

_LIST = DOCUMENTS["projects_list.graphql"]
_GET = DOCUMENTS["projects_get.graphql"]
_CREATE = DOCUMENTS["run_write_create.graphql"]
_LOOKUP = DOCUMENTS["run_write_lookup.graphql"]
_UPDATE = DOCUMENTS["run_write_update.graphql"]
_SUMMARY = DOCUMENTS["run_write_summary.graphql"]

_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEPT_CONFIG_KEYS = ("_wandb", "wandb_version")

_FRAME_SCHEMA: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "entity": pa.string(),
    "created_at": pa.timestamp("us", tz="UTC"),
    "run_count": pa.int64(),
    "is_benchmark": pa.bool_(),
    "description": pa.string(),
    "user": pa.string(),
    "url": pa.string(),
}


@dataclass(frozen=True)
class Project(NotebookDisplay):
    """One W&B project, with the members of ``wandb``'s ``Project``.

    Attributes:
        id: The project's storage id.
        name: The project name.
        entity: The entity (user or team) that owns it.
        created_at: Creation time as the server sent it (ISO text, as ``wandb``; typed in
            ``Projects.to_pandas()``).
        run_count: Number of runs in the project (``None`` if the server does not say).
        is_benchmark: W&B's benchmark flag.
        description: The project description, if any.
        user: Username of the creator, if known.
        url: The project's workspace page.
    """

    id: str
    name: str
    entity: str
    created_at: str | None
    run_count: int | None
    is_benchmark: bool
    description: str | None
    user: str | None
    url: str
    _owner: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    _api: Any = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> list[str]:
        """``[entity, name]``, as in ``wandb``."""
        return [self.entity, self.name]

    @property
    def entity_name(self) -> str:
        """The owning entity (GraphQL ``entityName``, as ``wandb``'s ``project.entity_name``)."""
        return self.entity

    @property
    def owner(self) -> User:
        """The project's creator as a :class:`~wandb_frames.resources.compat.User`.

        Raises:
            ValueError: The server gave no user for the project (as ``wandb``).
        """
        if self._owner is None:
            raise ConfigurationError(f"No user found for project {self.name}")
        return User(self._owner)

    def _session(self) -> Any:
        if self._api is None:
            raise ConfigurationError("this Project was built without an Api")
        return self._api

    def sweeps(self, per_page: int = 50, filters: dict[str, Any] | None = None,
               order: str | None = None) -> Any:
        """The project's sweeps (``Api.sweeps``); ``filters``/``order`` need W&B's cloud.

        Raises:
            UnsupportedFeatureError: ``filters`` or ``order`` given (sweep filtering is a
                W&B cloud feature).
        """
        if filters or order:
            _cloud_filter("Project.sweeps")
        return self._session().sweeps(f"{self.entity}/{self.name}", per_page=per_page)

    def artifacts_types(self, per_page: int = 50) -> Any:
        """The project's artifact types (``Api.artifact_types``; ``wandb``'s spelling)."""
        return self._session().artifact_types(f"{self.entity}/{self.name}")

    def collections(self, filters: Mapping[str, Any] | None = None, order: str | None = None,
                    per_page: int = 50) -> list[Any]:
        """Every artifact collection of the project, type by type.

        Raises:
            UnsupportedFeatureError: ``filters`` or ``order`` given (a W&B cloud feature).
        """
        if filters or order:
            _cloud_filter("Project.collections")
        return [c for t in self.artifacts_types() for c in t.collections(per_page=per_page)]

    def to_dict(self) -> dict[str, Any]:
        """The project as one frame row (``created_at`` as a UTC datetime)."""
        row = {name: getattr(self, name) for name in _FRAME_SCHEMA}
        row["created_at"] = parse_datetime(self.created_at)
        return row


def _cloud_filter(feature: str) -> None:
    raise UnsupportedFeatureError(
        f"{feature}(filters=..., order=...) (a wandb.Api feature) is not supported by wandb-frames: "
        f"server-side filtering is served by {CLOUD_ONLY}; filter the result (e.g. its to_pandas()) instead",
        feature=feature)


class Projects(Collection[Project]):
    """The projects of one entity: iterable; ``to_pandas()`` gives one row per project."""

    schema = _FRAME_SCHEMA

    def __init__(self, executor: Executor, entity: str, per_page: int, app_url: str) -> None:
        self.entity = entity
        self.per_page = per_page
        super().__init__(lambda: _iter_projects(executor, entity, per_page, app_url))


def project_url(app_url: str, entity: str, name: str) -> str:
    """The workspace URL of a project, as ``wandb`` builds it."""
    quoted = "/".join(urllib.parse.quote_plus(p) for p in (entity, name))
    return f"{app_url.rstrip('/')}/{quoted}/workspace"


def _project(node: Mapping[str, Any], app_url: str, api: Any = None) -> Project:
    try:
        name = str(node["name"])
        entity = str(node["entityName"])
        return Project(
            id=str(node["id"]),
            name=name,
            entity=entity,
            created_at=check_datetime(node.get("createdAt")),
            run_count=node.get("runCount"),
            is_benchmark=bool(node.get("isBenchmark")),
            description=node.get("description"),
            user=dig(node, "user", "username"),
            url=project_url(app_url, entity, name),
            _owner=node.get("user"),
            _api=api,
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"project record lacks a field: {exc}") from exc


def _iter_projects(executor: Executor, entity: str, per_page: int, app_url: str) -> Iterator[Project]:
    for page in iter_pages(
        executor.execute, _LIST, {"entity": entity}, connection_path=("models",),
        required={"entity": f"entity {entity!r}"}, page_size=per_page,
        size_variable="perPage", cursor_variable="cursor",
    ):
        for node in page.nodes:
            yield _project(node, app_url, executor)


def list_projects(
    executor: Executor,
    entity: str | None,
    per_page: int | None = 200,
    *,
    default_entity: str | None = None,
    app_url: str = DEFAULT_APP_URL,
) -> Projects:
    """The projects of ``entity`` (``Api.projects``); nothing is fetched until first use.

    Args:
        executor: Runs GraphQL operations.
        entity: The entity; ``None`` falls back to ``default_entity``.
        per_page: Page size (``None``: 200).
        default_entity: The ``Api``'s default entity.
        app_url: The W&B app URL used to build ``Project.url``.

    Raises:
        ValueError: (``ConfigurationError``) no entity and no default entity, or bad arguments.
    """
    if entity is None:
        entity = default_entity
        if not entity:
            raise ConfigurationError("entity must be passed as a parameter, or set in settings")
    return Projects(executor, check_name(entity, "entity"), check_per_page(per_page, default=200), app_url)


def get_project(
    executor: Executor, entity: str, name: str, *, app_url: str = DEFAULT_APP_URL
) -> Project:
    """One project by name (``Api.project``).

    Raises:
        NotFoundError: the project does not exist (``what`` = ``"project 'e/p'"``).
    """
    entity, name = check_name(entity, "entity"), check_name(name, "project")
    data = executor.execute(_GET, {"entity": entity, "project": name})
    _, node = resolve_connection(data, ("project",), operation=_GET.operation, what=f"project {entity + '/' + name!r}")
    return _project(node, app_url, executor)


# ----------------------------------------------------------------------------- run writes


def create_run(
    executor: Executor,
    entity: str,
    project: str | None = None,
    *,
    run_id: str | None = None,
    state: str = "running",
) -> dict[str, Any]:
    """Create a run (``Api.create_run``) and return the server's run node.

    Args:
        entity: The owning entity (the caller resolves ``None`` to the default entity).
        project: The project; ``None`` means ``"uncategorized"`` as in ``wandb``.
        run_id: The run ID; default: 8 random lowercase letters/digits.
        state: ``"running"`` or ``"pending"``.

    Returns:
        ``{"id", "name", "displayName", "state", "createdAt", "project": {"name", "entity": {"name"}}}``.

    Raises:
        ConfigurationError: bad arguments (before any request).
    """
    entity = check_name(entity, "entity")
    project = check_name(project or "uncategorized", "project")
    if run_id is None:
        run_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    elif not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ConfigurationError(f"invalid run_id {run_id!r}: use letters, digits, '_', '-' or '.'")
    if state not in ("running", "pending"):
        raise ConfigurationError(f"state must be 'running' or 'pending', got {state!r}")
    variables = {"entity": entity, "project": project, "name": run_id, "state": state}
    return _bucket(executor.execute(_CREATE, variables), _CREATE.operation)


def _bucket(data: Mapping[str, Any], operation: str) -> dict[str, Any]:
    bucket = dig(data, "upsertBucket", "bucket")
    if not isinstance(bucket, dict):
        raise ProtocolError(f"{operation} returned no run", operation=operation)
    return bucket


def _wrap_config(config: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    wrapped: dict[str, Any] = {key: {"value": value, "desc": None} for key, value in config.items()}
    for key in _KEPT_CONFIG_KEYS:
        if key not in config and key in current:
            wrapped[key] = current[key]
    return json.dumps(wrapped)


def update_run(
    executor: Executor,
    entity: str,
    project: str,
    run_id: str,
    *,
    config: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
) -> dict[str, Any]:
    """Write a run's editable fields (``Run.update``); ``None`` leaves a field unchanged.

    ``config`` and ``summary`` **replace** the stored dicts, as ``wandb``'s ``Run.update``
    does (pass the whole, edited dict); ``config`` values are unwrapped (``{"lr": 0.1}``) and
    the run's ``_wandb``/``wandb_version`` entries are kept unless given.

    Returns:
        The run node after the write (``id``, ``name``, ``displayName``, ``notes``, ``tags``,
        ``group``, ``jobType``, ``config``, ``summaryMetrics`` as the server stores them).

    Raises:
        ConfigurationError: bad arguments (before any request).
        NotFoundError: the project or run does not exist.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    run_id = check_name(run_id, "run id")
    for what, value in (("config", config), ("summary", summary)):
        if value is not None and not isinstance(value, Mapping):
            raise ConfigurationError(f"{what} must be a dict, got {type(value).__name__}")
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags)):
        raise ConfigurationError(f"tags must be a list of non-empty strings, got {tags!r}")
    texts = {"notes": notes, "displayName": display_name, "description": description,
             "groupName": group, "jobType": job_type}
    for key, text in texts.items():
        if text is not None and not isinstance(text, str):
            raise ConfigurationError(f"{key} must be a string, got {type(text).__name__}")
    data = executor.execute(_LOOKUP, {"entity": entity, "project": project, "run": run_id})
    _, run = resolve_connection(
        data, ("project", "run"), operation=_LOOKUP.operation,
        what=[f"project {entity + '/' + project!r}", f"run {entity + '/' + project + '/' + run_id!r}"],
    )
    variables: dict[str, Any] = {"id": run["id"], **{k: v for k, v in texts.items() if v is not None}}
    if tags is not None:
        variables["tags"] = list(tags)
    if config is not None:
        current = parse_json_string(run.get("config"), "run config") or {}
        variables["config"] = _wrap_config(config, current if isinstance(current, dict) else {})
    node: dict[str, Any] = dict(run)
    if len(variables) > 1:
        node = _bucket(executor.execute(_UPDATE, variables), _UPDATE.operation)
    if summary is not None:
        written = executor.execute(_SUMMARY, {"id": run["id"], "summaryMetrics": json.dumps(dict(summary))})
        node["summaryMetrics"] = _bucket(written, _SUMMARY.operation).get("summaryMetrics")
    return node
