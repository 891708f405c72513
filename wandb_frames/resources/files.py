"""A run's files: ``Run.files(names, pattern, per_page)``, ``Run.file(name)``, ``File.download``.

Listing fetches metadata (name, size, URLs, md5); ``File.read_bytes()``/``File.download()``
GET the file's ``url`` through the Api's transport (retries; the API key only to the API's
own origin, never to a storage host).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from wandb_frames.resources.base import (
    Collection,
    check_datetime,
    check_name,
    check_per_page,
    parse_datetime,
)
from wandb_frames.errors import ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.export import create_sibling_file
from wandb_frames.resources.compat import WRITE, NotebookDisplay, Unsupported
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages

__all__ = ["FILE_SCHEMA", "File", "Files", "get_file", "list_files"]

_S3_URL = re.compile(r"^https?://([^./]+)\.s3(?:[.-][^/]*)?\.amazonaws\.com/([^?]+)")

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


@dataclass(frozen=True)
class File(NotebookDisplay):
    """One file of a run (the members of ``wandb``'s ``File``): ``name``, ``size``, ``md5``, URLs.

    ``updated_at`` is the server's ISO text (as ``wandb``); typed in ``Files.to_pandas()``.
    ``run`` is the :class:`~wandb_frames.resources.run.Run` it belongs to (when listed by one).
    """

    id: str
    name: str
    size_bytes: int | None
    mimetype: str | None
    updated_at: str | None
    md5: str | None
    url: str | None
    direct_url: str | None
    _get: Callable[[str], bytes] | None = field(default=None, repr=False, compare=False)
    run: Any = field(default=None, repr=False, compare=False)

    delete = Unsupported(WRITE)

    @property
    def size(self) -> int:
        """The size in bytes (0 when the server does not say), as ``wandb``."""
        return 0 if self.size_bytes is None else int(self.size_bytes)

    @property
    def path_uri(self) -> str:
        """The file's URI in its storage bucket (``s3://bucket/key``), else ``""``, as ``wandb``."""
        if not self.direct_url:
            return ""
        if self.direct_url == self.url:
            return self.direct_url
        found = _S3_URL.match(self.direct_url)
        return f"s3://{found.group(1)}/{found.group(2)}" if found else ""

    def to_html(self, *args: Any, **kwargs: Any) -> None:
        """None: a run file has no page of its own (as ``wandb``)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The file as one frame row (``updated_at`` as a UTC datetime)."""
        row = {key: getattr(self, key) for key in _FRAME_SCHEMA if key != "size"}
        row["size"] = self.size_bytes
        row["updated_at"] = parse_datetime(self.updated_at)
        return {key: row[key] for key in _FRAME_SCHEMA}

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

    def download(self, root: str | os.PathLike[str] = ".", replace: bool = False,
                 exist_ok: bool = False, api: Any = None) -> io.TextIOWrapper:
        """Write the file under ``root`` (keeping its relative path) and open it, as ``wandb``.

        Args:
            root: The folder to write into (created if missing).
            replace: Overwrite an existing file.
            exist_ok: Open an existing file as it is instead of failing.
            api: Accepted for ``wandb`` parity (the file's own connection is used).

        Returns:
            The written (or found, with ``exist_ok``) file, open for reading as text; use
            ``.name`` for its path, or :meth:`download_to` for just the path.

        Raises:
            ConfigurationError: the name would leave ``root`` (absolute or ``..``), or the
                target exists and neither ``replace`` nor ``exist_ok`` is set (before any
                request).
            ApiError: the download failed; nothing is left at the target.
        """
        return open(self.download_to(root, replace=replace, exist_ok=exist_ok), encoding="utf-8")

    def download_to(self, root: str | os.PathLike[str] = ".", *, replace: bool = False,
                    exist_ok: bool = False) -> Path:
        """Write the file under ``root`` like :meth:`download` and return its path (not opened).

        Raises:
            ConfigurationError: see :meth:`download`.
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


FILE_SCHEMA = _FRAME_SCHEMA


class Files(Collection[File]):
    """The files of one run: iterable; ``to_pandas()`` gives one row per file."""

    schema = _FRAME_SCHEMA

    def __init__(self, executor: Executor, variables: dict[str, Any], per_page: int, what: str,
                 run: Any = None) -> None:
        self.file_count: int | None = None
        self.per_page = per_page
        self.run = run
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
                yield _file(node, getter, self.run)


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


def _file(node: Mapping[str, Any], getter: Callable[[str], bytes] | None = None, run: Any = None) -> File:
    try:
        return File(
            id=str(node["id"]),
            name=str(node["name"]),
            size_bytes=node.get("sizeBytes"),
            mimetype=node.get("mimetype"),
            updated_at=check_datetime(node.get("updatedAt")),
            md5=node.get("md5"),
            url=node.get("url"),
            direct_url=node.get("directUrl"),
            _get=getter,
            run=run,
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
    run: Any = None,
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
    return Files(executor, variables, size, f"{entity}/{project}/{run_id}", run)


def get_file(executor: Executor, entity: str, project: str, run_id: str, name: str, run: Any = None) -> File:
    """One file of a run by exact name (``Run.file``).

    Raises:
        NotFoundError: project, run or file missing (``what`` names it).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"file name must be a non-empty string, got {name!r}")
    for found in list_files(executor, entity, project, run_id, names=[name], per_page=1, run=run):
        if found.name == name:
            return found
    what = f"file {name!r} of run {entity + '/' + project + '/' + run_id!r}"
    raise NotFoundError(f"{what} not found", operation=_LIST.operation, what=what)
