"""Shared plumbing of the secondary API surface (projects, sweeps, artifacts, reports, files).

These modules never talk HTTP themselves: they take an :class:`Executor`, the one method
the client core exposes (``execute(document, variables, operation=...) -> data``). This
module also holds what all of them need: loading their ``.graphql`` documents once,
argument checks that run before any request, Relay pagination, lazy collections and the
small record → Arrow-backed frame conversion.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import graphql
import pandas as pd
import pyarrow as pa

from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.tabular import JSON_ENCODING_KEY, flatten_run, table_to_pandas
from wandb_frames.tabular.columns import column_to_arrow
from wandb_frames.tabular.schema import JSON_KINDS

__all__ = [
    "DEFAULT_APP_URL",
    "ArtifactPath",
    "Collection",
    "Executor",
    "check_name",
    "check_per_page",
    "flatten",
    "load_document",
    "paginate",
    "parse_artifact_name",
    "parse_datetime",
    "parse_json_string",
    "records_to_frame",
    "split_object_path",
    "split_project_path",
]

DEFAULT_APP_URL = "https://wandb.ai"

T = TypeVar("T")


class Executor(Protocol):
    """What the surface modules need from the client core: run one GraphQL operation.

    ``execute`` returns the response's ``data`` object and raises only
    :mod:`wandb_frames.errors` exceptions (``GraphQLError``, ``TransportError``, ...).
    """

    def execute(
        self,
        document: graphql.DocumentNode,
        variables: Mapping[str, Any],
        *,
        operation: str,
    ) -> dict[str, Any]:
        """Send ``document`` with ``variables`` and return the ``data`` object."""
        ...


@functools.cache
def load_document(filename: str) -> graphql.DocumentNode:
    """Parse one packaged ``wandb_frames/graphql/queries/<filename>`` (once per process)."""
    resource = importlib.resources.files("wandb_frames").joinpath("graphql", "queries", filename)
    return graphql.parse(resource.read_text(encoding="utf-8"))


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


def split_project_path(
    path: object, *, default_entity: str | None, default_project: str | None = None
) -> tuple[str, str]:
    """Split ``"entity/project"`` or ``"project"`` (or ``None``/``""``) into (entity, project).

    Raises:
        ConfigurationError: malformed path, or entity/project missing with no default.
    """
    if path is not None and not isinstance(path, str):
        raise ConfigurationError(f"path must be a string, got {type(path).__name__}")
    text = (path or "").strip()
    parts = text.split("/") if text else []
    if len(parts) > 2 or any(not part.strip() for part in parts):
        raise ConfigurationError(f"invalid project path {path!r}: expected 'entity/project' or 'project'")
    entity, project = default_entity, default_project
    if len(parts) == 2:
        entity, project = parts
    elif len(parts) == 1:
        project = parts[0]
    if not entity:
        raise ConfigurationError(
            f"invalid project path {path!r}: no entity given and no default entity is set"
        )
    if not project:
        raise ConfigurationError(f"invalid project path {path!r}: no project given and no default project")
    return check_name(entity, "entity"), check_name(project, "project")


def split_object_path(
    path: object,
    *,
    kind: str,
    default_entity: str | None,
    default_project: str | None = None,
) -> tuple[str, str, str]:
    """Split ``entity/project/id``, ``entity/project/<kind>s/id``, ``project/id`` or ``id``.

    ``kind`` is ``"sweep"`` or ``"run"``; shorter forms take entity/project from the defaults.

    Raises:
        ConfigurationError: malformed path, or a missing part with no default.
    """
    if not isinstance(path, str):
        raise ConfigurationError(f"{kind} path must be a string, got {type(path).__name__}")
    parts = [p for p in path.strip().strip("/").split("/")]
    if len(parts) == 4 and parts[2] == f"{kind}s":
        parts = [parts[0], parts[1], parts[3]]
    if parts == [""] or len(parts) > 3 or any(not p.strip() for p in parts):
        raise ConfigurationError(
            f"invalid {kind} path {path!r}: expected 'entity/project/{kind}_id', "
            f"'project/{kind}_id' or '{kind}_id'"
        )
    entity, project = default_entity, default_project
    if len(parts) == 3:
        entity, project = parts[0], parts[1]
    elif len(parts) == 2:
        project = parts[0]
    if not entity:
        raise ConfigurationError(f"invalid {kind} path {path!r}: missing entity and no default entity")
    if not project:
        raise ConfigurationError(f"invalid {kind} path {path!r}: missing project and no default project")
    return (
        check_name(entity, "entity"),
        check_name(project, "project"),
        check_name(parts[-1], f"{kind} id"),
    )


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


def paginate(
    executor: Executor,
    document: graphql.DocumentNode,
    variables: Mapping[str, Any],
    *,
    operation: str,
    connection: Callable[[dict[str, Any]], Mapping[str, Any] | None],
    not_found: Callable[[dict[str, Any]], str | None],
    per_page: int,
    cursor_var: str = "cursor",
    limit_var: str = "perPage",
) -> Iterator[Mapping[str, Any]]:
    """Yield every edge of a Relay connection, one request per page.

    Args:
        connection: picks the connection object out of ``data``.
        not_found: returns a description of the missing object (e.g. ``"project e/p"``)
            when ``data`` shows that a parent resolved to null, else ``None``.
    """
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page_vars = {**variables, cursor_var: cursor, limit_var: per_page}
        data = executor.execute(document, page_vars, operation=operation)
        missing = not_found(data)
        if missing is not None:
            raise NotFoundError(f"{missing} not found", operation=operation, what=missing)
        conn = connection(data)
        if conn is None or not isinstance(conn.get("edges"), list):
            raise ProtocolError(f"{operation}: response has no connection edges", operation=operation)
        yield from conn["edges"]
        info = conn.get("pageInfo") or {}
        end = info.get("endCursor")
        if not info.get("hasNextPage") or not conn["edges"]:
            return
        if not isinstance(end, str) or end in seen:
            raise ProtocolError(f"{operation}: server repeated or omitted a page cursor", operation=operation)
        seen.add(end)
        cursor = end


class Collection(Generic[T]):
    """A lazily fetched, cached sequence of objects; all pages are fetched on first use."""

    def __init__(self, fetch: Callable[[], Iterator[T]]) -> None:
        self._fetch = fetch
        self._items: list[T] | None = None

    def _load(self) -> list[T]:
        if self._items is None:
            self._items = list(self._fetch())
        return self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __getitem__(self, index: int) -> T:
        return self._load()[index]

    def __repr__(self) -> str:
        count = "?" if self._items is None else str(len(self._items))
        return f"<{type(self).__name__} ({count} loaded)>"


# ----------------------------------------------------------------------------- frames


def flatten(value: Mapping[str, Any], prefix: str, sep: str = ".") -> dict[str, Any]:
    """Flatten nested dicts into ``prefix<sep>key<sep>sub`` columns, as the runs frame does config.

    Uses :func:`wandb_frames.tabular.flatten_run`: lists and ``_type`` media dicts stay values;
    a literal ``"a.b"`` key meeting a nested ``{"a": {"b"}}`` is escaped with a warning.
    """
    return flatten_run({prefix: dict(value)}, sep=sep)


def _column(name: str, values: Sequence[Any], declared: pa.DataType | None) -> tuple[pa.Field, pa.Array]:
    if declared is not None:
        return pa.field(name, declared), pa.array(values, type=declared)
    array, kind, _ = column_to_arrow(values)
    metadata = {JSON_ENCODING_KEY: b"json"} if kind in JSON_KINDS else None
    return pa.field(name, array.type, metadata=metadata), array


def records_to_frame(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, pa.DataType]) -> pd.DataFrame:
    """Build an Arrow-backed frame: ``schema`` columns first, typed as declared, then the rest.

    Undeclared columns (flattened metadata/config) are typed by ``tabular``'s column rules:
    values that cannot share one Arrow type, and dicts, become JSON text marked with the
    ``wandb_frames.encoding`` field metadata.
    """
    extra = sorted({key for row in rows for key in row if key not in schema})
    fields: list[pa.Field] = []
    arrays: list[pa.Array] = []
    for name in [*schema, *extra]:
        field, array = _column(name, [row.get(name) for row in rows], schema.get(name))
        fields.append(field)
        arrays.append(array)
    return table_to_pandas(pa.Table.from_arrays(arrays, schema=pa.schema(fields)))
