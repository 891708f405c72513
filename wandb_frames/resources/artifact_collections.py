"""The collections of an artifact type: ``ArtifactType.collections()`` (as ``wandb``'s).

A collection is a named sequence of artifact versions (``ArtifactSequence``, what
``log_artifact`` creates) or a portfolio linking versions from elsewhere
(``ArtifactPortfolio``, e.g. a registry entry); ``kind`` says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from wandb_frames.resources.base import Collection, check_name, check_per_page, parse_datetime
from wandb_frames.errors import ProtocolError
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages
from wandb_frames.resources.artifacts import Artifacts, artifact_versions

__all__ = ["ArtifactCollection", "ArtifactCollections", "artifact_collections"]

_COLLECTIONS = DOCUMENTS["artifact_collections.graphql"]
_UTC = pa.timestamp("us", tz="UTC")
_KINDS = {"ArtifactSequence": "sequence", "ArtifactPortfolio": "portfolio"}

_SCHEMA: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "type": pa.string(),
    "kind": pa.string(),
    "description": pa.string(),
    "tags": pa.list_(pa.string()),
    "created_at": _UTC,
    "updated_at": _UTC,
    "entity": pa.string(),
    "project": pa.string(),
}


@dataclass(frozen=True)
class ArtifactCollection:
    """One collection of an artifact type.

    Attributes:
        id: Storage id. name: The collection name (``weights`` in ``weights:v3``).
        type: The artifact type. kind: ``"sequence"`` or ``"portfolio"``.
        description: Free text. tags: Tag names. created_at, updated_at: UTC.
        entity, project: Where the collection lives.
    """

    id: str
    name: str
    type: str
    kind: str
    description: str | None
    tags: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    entity: str
    project: str
    _executor: Executor | None = field(default=None, repr=False, compare=False)

    def versions(self, per_page: int | None = 50) -> Artifacts:
        """The collection's versions (as ``Api.artifact_versions(type, name)``), fetched on first use."""
        if self._executor is None:
            raise ProtocolError("this collection was built without a connection to its server")
        return artifact_versions(self._executor, self.entity, self.project, self.type, self.name, per_page)

    def to_dict(self) -> dict[str, Any]:
        """The collection as one frame row."""
        return {key: getattr(self, key) for key in _SCHEMA}


class ArtifactCollections(Collection[ArtifactCollection]):
    """Collections of an artifact type: iterable; ``to_pandas()`` gives one row per collection."""

    schema = _SCHEMA


def _collection(node: Mapping[str, Any], type_name: str, entity: str, project: str,
                executor: Executor) -> ArtifactCollection:
    try:
        tags = [edge["node"]["name"] for edge in (node.get("tags") or {}).get("edges") or ()
                if edge and edge.get("node")]
        return ArtifactCollection(
            id=str(node["id"]), name=str(node["name"]), type=type_name,
            kind=_KINDS.get(str(node.get("__typename")), str(node.get("__typename"))),
            description=node.get("description"), tags=tags,
            created_at=parse_datetime(node.get("createdAt")),
            updated_at=parse_datetime(node.get("updatedAt")),
            entity=entity, project=project, _executor=executor,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"artifact collection record lacks a field: {exc}") from exc


def artifact_collections(
    executor: Executor, entity: str, project: str, type_name: str, per_page: int | None = 50
) -> ArtifactCollections:
    """The collections of one artifact type, fetched on first use.

    Raises:
        ConfigurationError: bad names or page size (before any request).
        NotFoundError: (on first use) the project or the type does not exist.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    type_name = check_name(type_name, "artifact type")
    size = check_per_page(per_page, default=50)
    where = f"{entity}/{project}"
    what = [f"project {where!r}", f"artifact type {type_name!r} in {where!r}"]

    def fetch() -> Iterator[ArtifactCollection]:
        variables = {"entity": entity, "project": project, "type": type_name}
        for page in iter_pages(
            executor.execute, _COLLECTIONS, variables,
            connection_path=("project", "artifactType", "artifactCollections"), what=what,
            page_size=size, size_variable="perPage", cursor_variable="cursor",
        ):
            for node in page.nodes:
                yield _collection(node, type_name, entity, project, executor)

    return ArtifactCollections(fetch)
