"""Shared plumbing of the secondary API surface (projects, sweeps, artifacts, reports, files).

These modules never talk HTTP themselves: they take an
:class:`~wandb_frames.graphql.executor.Executor` (``Api`` is one), load their operations from
:mod:`wandb_frames.graphql.documents` and walk connections with
:func:`~wandb_frames.graphql.pagination.iter_pages`. This module holds what else all of them
need: argument and path checks that run before any request, response decoding, lazy
collections, and the object → Arrow-backed frame conversion (typed by :mod:`wandb_frames.tabular`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, overload
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from wandb_frames.errors import ConfigurationError, ProtocolError
from wandb_frames.resources.compat import INTERNAL, Unsupported
from wandb_frames.tabular import TableAssembler, table_to_pandas

__all__ = [
    "DEFAULT_APP_URL",
    "ArtifactPath",
    "Collection",
    "FrameRow",
    "PathParts",
    "check_datetime",
    "check_name",
    "check_per_page",
    "collection_frame",
    "dig",
    "parse_artifact_name",
    "parse_datetime",
    "parse_json_string",
    "parse_path",
    "split_object_path",
    "split_project_path",
]

DEFAULT_APP_URL = "https://wandb.ai"

T = TypeVar("T", bound="FrameRow")


# ----------------------------------------------------------------------------- arguments

_PART = re.compile(r"^[^/:\s][^/:]*$")


def check_name(value: object, what: str, *, allow_colon: bool = False) -> str:
    """Return ``value`` stripped, or raise ``ConfigurationError`` if it is no usable name.

    A name is a non-empty string without ``/`` (and without ``:`` unless ``allow_colon``).
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")
    text = value.strip()
    bad = "/" if allow_colon else "/ or :"
    if not text or "/" in text or (not allow_colon and ":" in text):
        raise ConfigurationError(f"invalid {what} {value!r}: expected a non-empty name without {bad}")
    return text


def check_per_page(per_page: object, *, default: int) -> int:
    """Validate a page size: ``None`` means ``default``; otherwise an int from 1 to 10,000."""
    if per_page is None:
        return default
    if isinstance(per_page, bool) or not isinstance(per_page, int):
        raise ConfigurationError(f"per_page must be an int, got {type(per_page).__name__}")
    if not 1 <= per_page <= 10_000:
        raise ConfigurationError(f"per_page must be between 1 and 10000, got {per_page}")
    return per_page


class PathParts(NamedTuple):
    """A parsed path; a part the path does not give is ``None`` (``id`` is ``None`` for projects)."""

    entity: str | None
    project: str | None
    id: str | None


_PAGES = frozenset({"workspace", "overview", "table", "runs", "sweeps", "artifacts", "reports", "jobs",
                    "logs", "files", "system", "charts", "code", "model", "usage"})
"""Tab names the W&B app appends to project, run and sweep URLs (``…/runs/<id>/logs``)."""


def _url_parts(text: str, kind: str) -> list[str]:
    """The path parts of an app URL, without a trailing tab (``/workspace``, ``/runs/<id>/logs``)."""
    parts = [p for p in urlsplit(text).path.split("/") if p]
    tab_at = 2 if kind == "project" else 4
    if len(parts) == tab_at + 1 and parts[-1] in _PAGES and (tab_at == 2 or parts[2] == f"{kind}s"):
        return parts[:-1]
    return parts


def parse_path(path: object, *, kind: str = "project") -> PathParts:
    """Split a W&B path or app URL into its parts, without defaults and without a request.

    Forms, for ``kind="project"``: ``""``/``None``, ``"project"``, ``"entity/project"``; for an
    object kind (``"run"``, ``"sweep"``, ``"artifact"``): ``"id"``, ``"project/id"``,
    ``"entity/project/id"`` and ``"entity/project/<kind>s/id"``. An app URL
    (``https://wandb.ai/entity/project/runs/id``, ``…/sweeps/id``, ``…/project/workspace``,
    query and trailing tab such as ``/overview`` ignored) gives the same parts. Slashes around
    a path are ignored (``"/e/p/"`` is ``"e/p"``); an empty part inside (``"e//p"``) is an error.

    Args:
        path: The path or URL.
        kind: ``"project"`` or the object's kind.

    Returns:
        ``PathParts(entity, project, id)``, each part stripped and checked by :func:`check_name`.

    Raises:
        ConfigurationError: Not a string, an empty part, too many parts, or a part with ``/``
            or ``:`` (before any request).

    Examples:
        >>> parse_path("https://wandb.ai/team/proj/runs/abc123?nw=1", kind="run")
        PathParts(entity='team', project='proj', id='abc123')
        >>> parse_path("proj")
        PathParts(entity=None, project='proj', id=None)
    """
    is_project = kind == "project"
    if path is None and is_project:
        path = ""
    if not isinstance(path, str):
        raise ConfigurationError(f"{kind} path must be a string, got {type(path).__name__}")
    text = path.strip()
    if "://" in text:
        parts = _url_parts(text, kind)
    else:
        parts = text.strip("/").split("/") if text.strip("/") else []
    if not is_project and len(parts) == 4 and parts[2] == f"{kind}s":
        parts = [parts[0], parts[1], parts[3]]
    most = 2 if is_project else 3
    if len(parts) > most or any(not p.strip() for p in parts) or (not is_project and not parts):
        forms = ("'entity/project' or 'project'" if is_project
                 else f"'entity/project/{kind}_id', 'project/{kind}_id' or '{kind}_id'")
        raise ConfigurationError(f"invalid {kind} path {path!r}: expected {forms}")
    names = ("entity", "project") if is_project else ("entity", "project", f"{kind} id")
    checked = [check_name(p, what) for p, what in zip(parts, names[-len(parts):], strict=True)] if parts else []
    if is_project:
        padded: list[str | None] = [None] * (2 - len(checked)) + list(checked)
        return PathParts(padded[0], padded[1], None)
    full: list[str | None] = [None] * (3 - len(checked)) + list(checked)
    return PathParts(full[0], full[1], full[2])


def _defaulted(parts: PathParts, path: object, kind: str, default_entity: str | None,
               default_project: str | None) -> tuple[str, str]:
    entity = parts.entity or default_entity
    project = parts.project or default_project
    if not entity:
        raise ConfigurationError(f"invalid {kind} path {path!r}: no entity given and no default entity is set")
    if not project:
        raise ConfigurationError(f"invalid {kind} path {path!r}: no project given and no default project")
    return check_name(entity, "entity"), check_name(project, "project")


def split_project_path(
    path: object, *, default_entity: str | None, default_project: str | None = None
) -> tuple[str, str]:
    """Split ``"entity/project"``, ``"project"``, ``None``/``""`` or a project URL into (entity, project).

    See :func:`parse_path` for the accepted forms; missing parts come from the defaults.

    Raises:
        ConfigurationError: malformed path, or entity/project missing with no default.

    Examples:
        >>> split_project_path("https://wandb.ai/team/proj/workspace", default_entity=None)
        ('team', 'proj')
        >>> split_project_path("proj", default_entity="me")
        ('me', 'proj')
    """
    return _defaulted(parse_path(path, kind="project"), path, "project", default_entity, default_project)


def split_object_path(
    path: object,
    *,
    kind: str,
    default_entity: str | None,
    default_project: str | None = None,
) -> tuple[str, str, str]:
    """Split ``entity/project/id``, ``entity/project/<kind>s/id``, ``project/id``, ``id`` or an app URL.

    ``kind`` is ``"run"``, ``"sweep"`` or ``"artifact"``; shorter forms take entity/project
    from the defaults (see :func:`parse_path`).

    Raises:
        ConfigurationError: malformed path, or a missing part with no default.

    Examples:
        >>> split_object_path("https://wandb.ai/e/p/sweeps/s1/overview", kind="sweep", default_entity=None)
        ('e', 'p', 's1')
    """
    parts = parse_path(path, kind=kind)
    entity, project = _defaulted(parts, path, kind, default_entity, default_project)
    return entity, project, parts.id or ""


_DIGEST = re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{64}$")


class ArtifactPath(NamedTuple):
    """A parsed artifact name: ``version`` is what follows ``:`` (``None`` for a bare digest)."""

    entity: str
    project: str
    collection: str | None
    version: str | None

    @property
    def query_name(self) -> str:
        """The name sent to the server: ``collection:version`` or the bare digest."""
        if self.collection is None:
            return self.version or ""
        return f"{self.collection}:{self.version}"


def parse_artifact_name(
    name: object, *, default_entity: str | None, default_project: str | None = None
) -> ArtifactPath:
    """Parse ``[entity/][project/]collection:version|alias|digest`` or ``[entity/][project/]<digest>``.

    Raises:
        ConfigurationError: not a string, too many ``/`` parts, an empty part, nothing after
            ``:``, no ``:`` and not a digest, or no entity/project and no default.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"artifact name must be a non-empty string, got {name!r}")
    path, colon, version = name.strip().partition(":")
    parts = path.split("/")
    if len(parts) > 3 or any(not p.strip() for p in parts):
        raise ConfigurationError(
            f"invalid artifact name {name!r}: expected 'entity/project/name:version', "
            "'name:alias' or a digest"
        )
    leaf = parts[-1].strip()
    if colon and not version.strip():
        raise ConfigurationError(f"invalid artifact name {name!r}: nothing after ':' (expected a version or alias)")
    if not colon and not _DIGEST.match(leaf):
        raise ConfigurationError(
            f"invalid artifact name {name!r}: add ':<version>' or ':<alias>' (e.g. '{leaf}:latest'), "
            "or pass a 32/64-hex-digit digest"
        )
    entity, project = default_entity, default_project or "uncategorized"
    if len(parts) == 3:
        entity, project = parts[0], parts[1]
    elif len(parts) == 2:
        project = parts[0]
    if not entity:
        raise ConfigurationError(f"invalid artifact name {name!r}: no entity given and no default entity")
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    if colon:
        return ArtifactPath(entity, project, check_name(leaf, "artifact name"), version.strip())
    return ArtifactPath(entity, project, None, leaf)


# ----------------------------------------------------------------------------- responses


def parse_datetime(value: object) -> datetime | None:
    """Decode a GraphQL ``DateTime`` (ISO text, naive means UTC) into an aware datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"expected an ISO date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProtocolError(f"invalid date-time {value!r} in response") from exc
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def check_datetime(value: object) -> str | None:
    """A GraphQL ``DateTime`` kept as the server sent it (``wandb`` returns the text), checked.

    Raises:
        ProtocolError: Not an ISO date-time string.
    """
    parse_datetime(value)
    return None if value is None or value == "" else str(value)


def parse_json_string(value: object, what: str) -> Any:
    """Decode a ``JSONString`` field (a JSON text, or already-decoded JSON)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not valid JSON text") from exc


def dig(data: Mapping[str, Any] | None, *keys: str) -> Any:
    """Follow ``keys`` into nested mappings; ``None`` as soon as one level is missing."""
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


class FrameRow(Protocol):
    """An object that is one row of a collection frame."""

    def to_dict(self) -> dict[str, Any]:
        """The object as one flat frame row."""
        ...


class Collection(Generic[T]):
    """A lazily fetched, cached sequence of objects; all pages are fetched on first use.

    Subclasses set ``schema`` (the documented frame columns and their Arrow types).
    """

    schema: ClassVar[Mapping[str, pa.DataType]] = {}

    # wandb's paginator plumbing (its public members), not offered: iterate, index or len().
    QUERY = Unsupported(INTERNAL)
    convert_objects = Unsupported(INTERNAL)
    cursor = Unsupported(INTERNAL)
    more = Unsupported(INTERNAL)
    next = Unsupported(INTERNAL)
    update_variables = Unsupported(INTERNAL)
    last_response = Unsupported(INTERNAL)
    index = Unsupported(INTERNAL)
    variables = Unsupported(INTERNAL)
    objects = Unsupported(INTERNAL)

    def __init__(self, fetch: Callable[[], Iterator[T]]) -> None:
        self._fetch = fetch
        self._items: list[T] | None = None

    @property
    def length(self) -> int:
        """The number of objects (``wandb``'s ``Projects.length``; same as ``len()``)."""
        return len(self)

    def _load(self) -> list[T]:
        if self._items is None:
            self._items = list(self._fetch())
        return self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._load()[index]

    def __repr__(self) -> str:
        count = "?" if self._items is None else str(len(self._items))
        return f"<{type(self).__name__} ({count} loaded)>"

    def to_pandas(self) -> pd.DataFrame:
        """All objects as an Arrow-backed frame, one row each (see :func:`collection_frame`)."""
        return collection_frame([item.to_dict() for item in self], self.schema)


# ----------------------------------------------------------------------------- frames


def collection_frame(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, pa.DataType]) -> pd.DataFrame:
    """Build an Arrow-backed frame of objects: ``schema`` columns first, typed as declared.

    The other keys of ``rows`` (``metadata.*`` / ``config.*``, flattened with
    :func:`wandb_frames.tabular.flatten_run`) are typed by :class:`~wandb_frames.tabular.TableAssembler`,
    exactly as a runs frame types its ``config.*`` columns (int + float → float64; values that
    cannot share one type, and media dicts, → JSON text marked by field metadata), in order of
    first appearance.

    Args:
        rows: One flat record per object (e.g. ``Artifact.to_dict()``).
        schema: The documented columns and their Arrow types.

    Returns:
        The frame; ``df.attrs["wandb_frames"]["json_columns"]`` lists the JSON-text columns.

    Warns:
        LossyConversionWarning: An undeclared column held values of different kinds.
    """
    fields = [pa.field(name, type_) for name, type_ in schema.items()]
    columns = [pa.chunked_array([pa.array([row.get(name) for row in rows], type=type_)], type=type_)
               for name, type_ in schema.items()]
    extras = [{k: v for k, v in row.items() if k not in schema} for row in rows]
    if any(extras):
        assembler = TableAssembler()
        assembler.add(extras)
        table = assembler.finish()
        fields.extend(table.schema)
        columns.extend(table.columns)
    return table_to_pandas(pa.Table.from_arrays(columns, schema=pa.schema(fields)))
