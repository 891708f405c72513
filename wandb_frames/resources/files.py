"""A run's files: ``Run.files(names, pattern, per_page)``, ``Run.file(name)``, ``File.download``.

Listing fetches metadata (name, size, URLs, md5); ``File.read_bytes()``/``File.download()``
GET the file's ``url`` through the Api's transport (retries; the API key only to the API's
own origin, never to a storage host).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from wandb_frames.resources.base import (
    Collection,
    check_name,
    check_per_page,
    parse_datetime,
)
from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.export import create_sibling_file
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
    _get: Callable[[str], bytes] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The file as one frame row."""
        return {key: getattr(self, key) for key in _FRAME_SCHEMA}

    def read_bytes(self) -> bytes:
        """The file's content (one GET of ``url``, with the transport's retries).

        Raises:
            ProtocolError: the file has no URL, or was built without a connection.
            ApiError: the download failed (typed, naming the file).
        """
        if not self.url:
            raise ProtocolError(f"file {self.name!r} has no download URL")
        if self._get is None:
            raise ProtocolError(f"file {self.name!r} was built without a connection to its server")
        return self._get(self.url)

    def download(self, root: str | os.PathLike[str] = ".", *, replace: bool = False,
                 exist_ok: bool = False) -> Path:
        """Write the file under ``root`` (keeping its relative path, e.g. ``media/a.png``).

        Args:
            root: The folder to write into (created if missing).
            replace: Overwrite an existing file.
            exist_ok: Return an existing file as it is instead of failing.

        Returns:
            The path written (or found, with ``exist_ok``).

        Raises:
            ConfigurationError: the name would leave ``root`` (absolute or ``..``), or the
                target exists and neither ``replace`` nor ``exist_ok`` is set (before any
                request).
            ApiError: the download failed; nothing is left at the target.
        """
        base = Path(root)
        target = base / self.name
        if Path(self.name).is_absolute() or not target.resolve().is_relative_to(base.resolve()):
            raise ConfigurationError(f"file name {self.name!r} would be written outside {str(base)!r}")
        if target.exists() and not replace:
            if exist_ok:
                return target
            raise ConfigurationError(f"{str(target)!r} exists: pass replace=True to overwrite it, "
                                     "or exist_ok=True to keep it")
        data = self.read_bytes()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_sibling_file(target, ".part")  # the umask applies, unlike mkstemp's 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target


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
            getter = _getter(executor)
            for node in page.nodes:
                yield _file(node, getter)


def _getter(executor: Executor) -> Callable[[str], bytes] | None:
    """The Api's transport GET for file URLs (``None`` for an executor without one)."""
    transport = getattr(executor, "transport", None)
    get_bytes = getattr(transport, "get_bytes", None)
    if get_bytes is None:
        return None

    def get(url: str) -> bytes:
        data: bytes = get_bytes(url, what="run file")
        return data

    return get


def _file(node: Mapping[str, Any], getter: Callable[[str], bytes] | None = None) -> File:
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
            _get=getter,
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
