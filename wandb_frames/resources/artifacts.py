"""Artifacts: ``Api.artifact``, ``artifact_versions`` and a run's artifacts (types: ``artifact_types``).

Names follow ``wandb``: ``[entity/][project/]collection:version-or-alias``, where the
part after ``:`` may also be a digest, or a bare digest (``[entity/][project/]<digest>``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa

from wandb_frames.resources.base import (
    ArtifactPath,
    Collection,
    check_datetime,
    check_name,
    check_per_page,
    dig,
    parse_artifact_name,
    parse_datetime,
    parse_json_string,
    split_project_path,
)
from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.graphql.documents import DOCUMENTS, Document
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages, resolve_connection
from wandb_frames.resources.artifact_compat import ArtifactCompat
from wandb_frames.tabular import flatten_run

__all__ = [
    "Artifact",
    "ArtifactPath",
    "Artifacts",
    "RunRef",
    "artifact_versions",
    "get_artifact",
    "logged_artifacts",
    "parse_artifact_name",
    "used_artifacts",
]

_MEMBERSHIP = DOCUMENTS["artifact_membership.graphql"]
_BY_NAME = DOCUMENTS["artifact_by_name.graphql"]
_VERSIONS = DOCUMENTS["artifact_versions.graphql"]
_OUTPUT = DOCUMENTS["artifact_run_output.graphql"]
_INPUT = DOCUMENTS["artifact_run_input.graphql"]
_CREATED_BY = DOCUMENTS["artifact_created_by.graphql"]

_UTC = pa.timestamp("us", tz="UTC")

_FRAME_SCHEMA: dict[str, pa.DataType] = {
    "name": pa.string(),
    "collection": pa.string(),
    "version": pa.string(),
    "type": pa.string(),
    "aliases": pa.list_(pa.string()),
    "digest": pa.string(),
    "size": pa.int64(),
    "file_count": pa.int64(),
    "state": pa.string(),
    "description": pa.string(),
    "created_at": _UTC,
    "updated_at": _UTC,
    "entity": pa.string(),
    "project": pa.string(),
    "id": pa.string(),
    "tags": pa.list_(pa.string()),
}

class RunRef(NamedTuple):
    """The run that logged an artifact: ``entity/project/id``."""

    entity: str
    project: str
    id: str

    @property
    def path(self) -> str:
        """``entity/project/run_id``, accepted by ``Api.run``."""
        return f"{self.entity}/{self.project}/{self.id}"


@dataclass(eq=False)
class Artifact(ArtifactCompat):
    """One artifact version, with the reading members of ``wandb``'s ``Artifact``.

    Attributes:
        name: As fetched (``data:best``) or ``collection:v<N>``. collection: The collection name.
        version: ``v<N>``. version_index: ``N``. aliases: Aliases in this collection.
        type: The artifact type. digest, size (bytes), file_count, state, commit_hash.
        metadata: The user metadata dict. description: Free text. tags: Tag names.
        created_at, updated_at: As the server sent them (ISO text, as ``wandb``; typed in
        ``Artifacts.to_pandas()``). entity, project: Where the collection lives.
        id: The artifact's storage id.
    """

    id: str
    collection: str
    version_index: int | None
    aliases: list[str]
    type: str
    digest: str
    size: int | None
    file_count: int | None
    state: str | None
    commit_hash: str | None
    description: str | None
    metadata: dict[str, Any]
    tags: list[str]
    created_at: str | None
    updated_at: str | None
    entity: str
    project: str
    requested_name: str | None = None
    _executor: Executor | None = field(default=None, repr=False)
    _logged_by: RunRef | None | bool = field(default=False, repr=False)
    _ttl_seconds: int | None = field(default=None, repr=False)
    _history_step: int | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        """``v<N>`` (``""`` when the server gave no index)."""
        return "" if self.version_index is None else f"v{self.version_index}"

    @property
    def name(self) -> str:
        """The name it was fetched by (``data:best``), else ``collection:v<N>``, as in ``wandb``."""
        if self.requested_name:
            return self.requested_name
        return f"{self.collection}:{self.version}" if self.version else self.collection

    @property
    def qualified_name(self) -> str:
        """``entity/project/collection:v<N>``."""
        return f"{self.entity}/{self.project}/{self.name}"

    def logged_by(self) -> Any:
        """The run that logged this artifact, as a ``Run`` (as ``wandb``), or ``None``."""
        ref = self.logged_by_ref()
        if ref is None:
            return None
        fetch_run = getattr(self._executor, "run", None)
        return ref if fetch_run is None else fetch_run(ref.path)

    def logged_by_ref(self) -> RunRef | None:
        """The path of the run that logged this artifact (one request, then cached), or ``None``."""
        if self._logged_by is not False:
            return self._logged_by if isinstance(self._logged_by, RunRef) else None
        if self._executor is None:
            raise ConfigurationError("this Artifact was built without an executor")
        data = self._executor.execute(_CREATED_BY, {"id": self.id})
        creator = dig(data, "artifact", "createdBy")
        ref = None
        if isinstance(creator, Mapping) and creator.get("__typename") == "Run":
            ref = RunRef(str(dig(creator, "project", "entity", "name")), str(dig(creator, "project", "name")), str(creator["name"]))
        self._logged_by = ref
        return ref

    def to_dict(self) -> dict[str, Any]:
        """The artifact as one frame row; metadata flattened under ``metadata.``."""
        row = {key: getattr(self, key) for key in _FRAME_SCHEMA}
        row["created_at"] = parse_datetime(self.created_at)
        row["updated_at"] = parse_datetime(self.updated_at)
        row.update(flatten_run({"metadata": self.metadata}))
        return row


def _artifact(node: Mapping[str, Any], executor: Executor, version_index: int | None = None) -> Artifact:
    try:
        collection = str(dig(node, "artifactSequence", "name"))
        metadata = parse_json_string(node.get("metadata"), "artifact metadata") or {}
        aliases = [
            str(a["alias"]) for a in node.get("aliases") or []
            if dig(a, "artifactCollection", "name") in (None, collection)
        ]
        index = node.get("versionIndex") if version_index is None else version_index
        return Artifact(
            id=str(node["id"]),
            collection=collection,
            version_index=index,
            aliases=aliases,
            type=str(dig(node, "artifactType", "name")),
            digest=str(node["digest"]),
            size=node.get("size"),
            file_count=node.get("fileCount"),
            state=node.get("state"),
            commit_hash=node.get("commitHash"),
            description=node.get("description"),
            metadata=metadata if isinstance(metadata, dict) else {"value": metadata},
            tags=[str(t["name"]) for t in node.get("tags") or []],
            created_at=check_datetime(node.get("createdAt")),
            updated_at=check_datetime(node.get("updatedAt")),
            entity=str(dig(node, "artifactSequence", "project", "entity", "name")),
            project=str(dig(node, "artifactSequence", "project", "name")),
            _executor=executor,
            _ttl_seconds=node.get("ttlDurationSeconds"),
            _history_step=node.get("historyStep"),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"artifact record lacks a field: {exc}") from exc


def _not_found(what: str, operation: str) -> NotFoundError:
    return NotFoundError(f"{what} not found", operation=operation, what=what)


def get_artifact(executor: Executor, path: ArtifactPath, type: str | None = None) -> Artifact:
    """Fetch one artifact version (``Api.artifact``); parse the name with :func:`parse_artifact_name`.

    Raises:
        NotFoundError: project or artifact missing. ConfigurationError: ``type`` given and
            not the artifact's type (or not a valid type name).
    """
    if type is not None:
        type = check_name(type, "artifact type")
    where = f"{path.entity}/{path.project}"
    variables = {"entity": path.entity, "project": path.project, "name": path.query_name}
    if path.collection is None:
        data = executor.execute(_BY_NAME, variables)
        node, index = dig(data, "project", "artifact"), None
        operation = _BY_NAME.operation
    else:
        data = executor.execute(_MEMBERSHIP, variables)
        membership = dig(data, "project", "artifactCollectionMembership")
        node = dig(membership, "artifact")
        index = dig(membership, "versionIndex")
        operation = _MEMBERSHIP.operation
    if data.get("project") is None:
        raise _not_found(f"project {where!r}", operation)
    if node is None:
        raise _not_found(f"artifact {where + '/' + path.query_name!r}", operation)
    artifact = _artifact(node, executor, index)
    if path.collection is not None:
        aliases = [str(a["alias"]) for a in dig(membership, "aliases") or []]
        artifact.collection = str(dig(membership, "artifactCollection", "name") or artifact.collection)
        artifact.aliases = aliases or artifact.aliases
        artifact.requested_name = path.query_name
    if type is not None and artifact.type != type:
        raise ConfigurationError(f"type {type!r} specified but this artifact is of type {artifact.type!r}")
    return artifact


class Artifacts(Collection[Artifact]):
    """Artifact versions: iterable; ``to_pandas()`` gives one row per version (``metadata.<key>`` columns).

    ``entity``, ``project``, ``type``, ``collection_name``, ``per_page``, ``filters``,
    ``order`` and ``tags`` say what was listed, as on ``wandb``'s ``Artifacts``.
    """

    schema = _FRAME_SCHEMA
    entity: str | None = None
    project: str | None = None
    type: str | None = None
    collection_name: str | None = None
    per_page: int = 50
    order: str | None = None
    @property
    def tags(self) -> list[str]:
        """The tag filter (none: every version), as ``wandb``'s ``Artifacts.tags``."""
        return []

    @property
    def filters(self) -> dict[str, Any]:
        """The filter ``wandb`` would send (the collection's versions; no other filter is offered)."""
        return {"state": "COMMITTED"}


def artifact_versions(
    executor: Executor, entity: str, project: str, type_name: str, collection: str, per_page: int | None = 50
) -> Artifacts:
    """The versions of one collection (``Api.artifact_versions``), fetched on first use.

    Raises:
        ConfigurationError: bad names or page size (before any request).
        NotFoundError: (on first use) project, type or collection missing.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    type_name, collection = check_name(type_name, "artifact type"), check_name(collection, "artifact name")
    size = check_per_page(per_page, default=50)

    where = f"{entity}/{project}"
    what = [f"project {where!r}", f"artifact type {type_name!r} in {where!r}",
            f"artifact collection {collection!r} of type {type_name!r} in {where!r}"]

    def fetch() -> Iterator[Artifact]:
        variables = {"entity": entity, "project": project, "type": type_name, "collection": collection}
        for page in iter_pages(
            executor.execute, _VERSIONS, variables,
            connection_path=("project", "artifactType", "artifactCollection", "artifacts"), what=what,
            page_size=size, size_variable="perPage", cursor_variable="cursor",
        ):
            for edge in page.edges:
                if not edge or edge.get("node") is None:
                    continue
                artifact = _artifact(edge["node"], executor)
                version = edge.get("version")
                if isinstance(version, str) and version.startswith("v") and version[1:].isdigit():
                    artifact.version_index = int(version[1:])
                artifact.collection = collection
                yield artifact

    listing = Artifacts(fetch)
    listing.entity, listing.project, listing.type, listing.collection_name = entity, project, type_name, collection
    listing.per_page = size
    return listing


def _run_artifacts(
    executor: Executor, document: Document, entity: str, project: str, run_id: str, per_page: int | None
) -> Artifacts:
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    run_id = check_name(run_id, "run id")
    size = check_per_page(per_page, default=50)
    what = [f"project {entity + '/' + project!r}", f"run {entity + '/' + project + '/' + run_id!r}"]

    def fetch() -> Iterator[Artifact]:
        for page in iter_pages(
            executor.execute, document, {"entity": entity, "project": project, "run": run_id},
            connection_path=("project", "run", "artifacts"), what=what,
            page_size=size, size_variable="perPage", cursor_variable="cursor",
        ):
            for node in page.nodes:
                yield _artifact(node, executor)

    return Artifacts(fetch)


def logged_artifacts(executor: Executor, entity: str, project: str, run_id: str, per_page: int | None = 50) -> Artifacts:
    """The artifacts a run logged (``Run.logged_artifacts()``), fetched on first use."""
    return _run_artifacts(executor, _OUTPUT, entity, project, run_id, per_page)


def used_artifacts(executor: Executor, entity: str, project: str, run_id: str, per_page: int | None = 50) -> Artifacts:
    """The artifacts a run used as inputs (``Run.used_artifacts()``), fetched on first use."""
    return _run_artifacts(executor, _INPUT, entity, project, run_id, per_page)
