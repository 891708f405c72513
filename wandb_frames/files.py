"""A run's files: ``Run.files(names, pattern, per_page)`` and ``Run.file(name)``.

Only metadata is fetched here (name, size, URLs, md5); downloading a file is a plain GET
of its ``url`` with the API key, which the client core's transport does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from wandb_frames._executor import (
    Collection,
    check_name,
    check_per_page,
    parse_datetime,
)
from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages

__all__ = ["File", "Files", "get_file", "list_files"]

_LIST = DOCUMENTS["files_list.graphql"]

_FRAME_SCHEMA: dict[str, pa.DataType] = {
    "name": pa.string(),
    "size": pa.int64(),
    "mimetype": pa.string(),
    "updated_at": pa.timestamp("us", tz="UTC"),
    "md5": pa.string(),
    "url": pa.string(),
    "direct_url": pa.string(),
    "id": pa.string(),
}


@dataclass(frozen=True, slots=True)
class File:
    """One file of a run: ``name``, ``size`` (bytes), ``mimetype``, ``updated_at``, ``md5``, URLs."""

    id: str
    name: str
    size: int | None
    mimetype: str | None
    updated_at: datetime | None
    md5: str | None
    url: str | None
    direct_url: str | None

    def to_dict(self) -> dict[str, Any]:
        """The file as one frame row."""
        return {key: getattr(self, key) for key in _FRAME_SCHEMA}


class Files(Collection[File]):
    """The files of one run: iterable; ``to_pandas()`` gives one row per file."""

    schema = _FRAME_SCHEMA

    def __init__(self, executor: Executor, variables: dict[str, Any], per_page: int, what: str) -> None:
        self.file_count: int | None = None
        super().__init__(lambda: self._iter(executor, variables, per_page, what))

    def _iter(self, executor: Executor, variables: dict[str, Any], per_page: int, what: str) -> Iterator[File]:
        for page in iter_pages(
            executor.execute, _LIST, variables, connection_path=("project", "run", "files"),
            what=["project " + repr(what.rsplit("/", 1)[0]), f"run {what!r}"], page_size=per_page,
            size_variable="perPage", cursor_variable="cursor",
        ):
            count = page.parent.get("fileCount")
            self.file_count = count if isinstance(count, int) else None
            for node in page.nodes:
                yield _file(node)


def _file(node: Mapping[str, Any]) -> File:
    try:
        return File(
            id=str(node["id"]),
            name=str(node["name"]),
            size=node.get("sizeBytes"),
            mimetype=node.get("mimetype"),
            updated_at=parse_datetime(node.get("updatedAt")),
            md5=node.get("md5"),
            url=node.get("url"),
            direct_url=node.get("directUrl"),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"file record lacks a field: {exc}") from exc


def list_files(
    executor: Executor,
    entity: str,
    project: str,
    run_id: str,
    names: Sequence[str] | None = None,
    pattern: str | None = None,
    per_page: int | None = 50,
) -> Files:
    """The files of a run (``Run.files``), fetched on first use.

    Args:
        names: Only these file names (exact). pattern: A MySQL ``LIKE`` pattern, e.g. ``"%.json"``.
            ``names`` and ``pattern`` cannot be combined (W&B rejects it).

    Raises:
        ConfigurationError: bad arguments (before any request).
        NotFoundError: (on first use) project or run missing.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    run_id = check_name(run_id, "run id")
    if isinstance(names, str) or (names is not None and not all(isinstance(n, str) and n for n in names)):
        raise ConfigurationError(f"names must be a list of file names, got {names!r}")
    if pattern is not None and (not isinstance(pattern, str) or not pattern):
        raise ConfigurationError(f"pattern must be a non-empty string, got {pattern!r}")
    if names and pattern is not None:
        raise ConfigurationError("pass either names or pattern, not both")
    variables: dict[str, Any] = {"entity": entity, "project": project, "run": run_id,
                                 "names": list(names or []), "pattern": pattern}
    size = check_per_page(per_page, default=50)
    return Files(executor, variables, size, f"{entity}/{project}/{run_id}")


def get_file(executor: Executor, entity: str, project: str, run_id: str, name: str) -> File:
    """One file of a run by exact name (``Run.file``).

    Raises:
        NotFoundError: project, run or file missing (``what`` names it).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"file name must be a non-empty string, got {name!r}")
    for found in list_files(executor, entity, project, run_id, names=[name], per_page=1):
        if found.name == name:
            return found
    what = f"file {name!r} of run {entity + '/' + project + '/' + run_id!r}"
    raise NotFoundError(f"{what} not found", operation=_LIST.operation, what=what)
