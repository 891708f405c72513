"""Artifact types: ``Api.artifact_type(s)`` and each type's collections."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from wandb_frames.errors import NotFoundError, ProtocolError, UnsupportedFeatureError
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages, resolve_connection
from wandb_frames.resources.artifact_collections import ArtifactCollection, ArtifactCollections, artifact_collections
from wandb_frames.resources.base import Collection, check_name, check_per_page, parse_datetime, split_project_path

__all__ = ["ArtifactType", "ArtifactTypes", "artifact_type", "artifact_types"]

_TYPES = DOCUMENTS["artifact_types.graphql"]
_TYPE = DOCUMENTS["artifact_type.graphql"]
_UTC = pa.timestamp("us", tz="UTC")

_TYPE_SCHEMA: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "description": pa.string(),
    "created_at": _UTC,
    "entity": pa.string(),
    "project": pa.string(),
}


@dataclass(frozen=True, slots=True)
class ArtifactType:
    """One artifact type of a project (``id``, ``name``, ``description``, ``created_at``), as ``wandb``'s."""

    id: str
    name: str
    description: str | None
    created_at: datetime | None
    entity: str
    project: str
    _executor: Executor | None = field(default=None, repr=False, compare=False)
    _created_at_text: str | None = field(default=None, repr=False, compare=False)

    @property
    def type(self) -> str:
        """The type's name (``wandb``'s ``ArtifactType.type``)."""
        return self.name

    def load(self) -> dict[str, Any]:
        """The type's fields (``id``, ``name``), as ``wandb``'s ``ArtifactType.load`` gives them."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "createdAt": self._created_at_text}

    def collections(self, filters: Mapping[str, Any] | None = None, order: str | None = None,
                    per_page: int | None = 50, start: str | None = None) -> ArtifactCollections:
        """The type's collections (``wandb``'s ``ArtifactType.collections()``), fetched on first use.

        Raises:
            ConfigurationError: a bad page size (before any request).
            UnsupportedFeatureError: ``filters``, ``order`` or ``start`` given (served by W&B's cloud).
            NotFoundError: (on first use) the project or the type no longer exists.
        """
        if filters or order or start:
            raise UnsupportedFeatureError(
                "ArtifactType.collections(filters=, order=, start=) (a wandb.Api feature) is not supported "
                "by wandb-frames: filter or sort the result's to_pandas() instead",
                feature="ArtifactType.collections(filters, order, start)")
        if self._executor is None:
            raise ProtocolError("this artifact type was built without a connection to its server")
        return artifact_collections(self._executor, self.entity, self.project, self.name, per_page)

    def collection(self, name: str) -> ArtifactCollection:
        """One collection of this type by name.

        Raises:
            NotFoundError: no collection of that name (after listing the type's collections).
        """
        name = check_name(name, "artifact name")
        for found in self.collections(per_page=None):
            if found.name == name:
                return found
        raise NotFoundError(
            f"artifact collection {name!r} of type {self.name!r} in {self.entity}/{self.project} not found",
            operation="ArtifactTypeCollectionsPage",
            what=f"artifact collection {name!r}",
        )

    def to_dict(self) -> dict[str, Any]:
        """The type as one frame row."""
        return {key: getattr(self, key) for key in _TYPE_SCHEMA}


def _artifact_type(
    node: Mapping[str, Any], entity: str, project: str, executor: Executor | None = None
) -> ArtifactType:
    try:
        return ArtifactType(
            id=str(node["id"]), name=str(node["name"]), description=node.get("description"),
            created_at=parse_datetime(node.get("createdAt")), entity=entity, project=project,
            _executor=executor, _created_at_text=node.get("createdAt"),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"artifact type record lacks a field: {exc}") from exc


class ArtifactTypes(Collection[ArtifactType]):
    """The artifact types of a project: iterable; ``to_pandas()`` gives one row per type."""

    schema = _TYPE_SCHEMA
    entity: str = ""
    project: str = ""
    per_page: int = 50


def artifact_types(
    executor: Executor, project: str | None, *, default_entity: str | None,
    default_project: str | None = None, per_page: int | None = 50,
) -> ArtifactTypes:
    """The artifact types of ``project`` (``"entity/project"`` or ``"project"``), fetched on first use."""
    entity, name = split_project_path(project, default_entity=default_entity, default_project=default_project or "uncategorized")
    size = check_per_page(per_page, default=50)

    def fetch() -> Iterator[ArtifactType]:
        for page in iter_pages(
            executor.execute, _TYPES, {"entity": entity, "project": name},
            connection_path=("project", "artifactTypes"), what=f"project {entity + '/' + name!r}",
            page_size=size, size_variable="perPage", cursor_variable="cursor",
        ):
            for node in page.nodes:
                yield _artifact_type(node, entity, name, executor)

    listing = ArtifactTypes(fetch)
    listing.entity, listing.project, listing.per_page = entity, name, size
    return listing


def artifact_type(
    executor: Executor, type_name: str, project: str | None, *, default_entity: str | None,
    default_project: str | None = None,
) -> ArtifactType:
    """One artifact type by name (``Api.artifact_type``).

    Raises:
        ConfigurationError: bad type name or project path. NotFoundError: project or type missing.
    """
    type_name = check_name(type_name, "artifact type")
    entity, name = split_project_path(project, default_entity=default_entity, default_project=default_project or "uncategorized")
    data = executor.execute(_TYPE, {"entity": entity, "project": name, "type": type_name})
    _, node = resolve_connection(
        data, ("project", "artifactType"), operation=_TYPE.operation,
        what=[f"project {entity + '/' + name!r}", f"artifact type {type_name!r} in {entity + '/' + name!r}"],
    )
    return _artifact_type(node, entity, name, executor)
