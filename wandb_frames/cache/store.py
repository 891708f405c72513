"""The opt-in on-disk runs cache: parquet files refreshed incrementally.

``Api(cache=True)`` keeps, per (server, entity, project, column projection, separator),
one parquet file of the project's runs. A repeated ``api.runs(...)`` asks the server only
for runs that changed since the last fetch (newer ``heartbeatAt``, or unfinished when
cached), without any filtered listing; it lists run IDs to drop deleted runs when the run
count disagrees, merges, and answers the filter locally with the same compiler as
``filters.apply``. ``offline=True`` answers from disk only. The design and its
limits are in ``docs/cache.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq

from wandb_frames.cache.merge import ids_digest, upsert_runs
from wandb_frames.errors import CacheError, ConfigurationError, CorruptRecordWarning, ExportError
from wandb_frames.export import PROVENANCE_KEY, from_disk, provenance, write_parquet

__all__ = [
    "CACHE_FORMAT",
    "NON_FINAL_STATES",
    "CacheEntry",
    "CacheInfo",
    "CacheKey",
    "RunsCache",
    "default_cache_dir",
    "resolve_cache",
    "safe_url",
]

logger = logging.getLogger("wandb_frames.cache.store")
CACHE_FORMAT = 1
"""Version of the cache file layout; files of another version are refetched silently."""
NON_FINAL_STATES: tuple[str, ...] = ("running", "pending", "preempting")
"""Run states that may still change without a newer heartbeat: always refetched."""
ENV_CACHE_DIR = "WANDB_FRAMES_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$WANDB_FRAMES_CACHE_DIR``, else the platform's user cache dir + ``wandb-frames``.

    Linux/BSD: ``$XDG_CACHE_HOME`` or ``~/.cache``; macOS: ``~/Library/Caches``;
    Windows: ``%LOCALAPPDATA%``.
    """
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "wandb-frames"


def safe_url(url: str) -> str:
    """The base URL without credentials, query or fragment, lower-cased scheme and host."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _segment(name: str) -> str:
    text = quote(name, safe="-_.")
    return text.replace(".", "%2E") if set(text) <= {"."} else text


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What one cache file holds: the server, the project, the projection and ``sep``."""

    server: str
    entity: str
    project: str
    projection: str
    sep: str

    def relative_path(self) -> Path:
        """``runs/<server hash>/<entity>/<project>/<projection hash>.parquet``."""
        host = hashlib.sha256(self.server.encode()).hexdigest()[:16]
        shape = hashlib.sha256(f"{self.projection}\0{self.sep}".encode()).hexdigest()[:16]
        return Path("runs", host, _segment(self.entity), _segment(self.project), f"{shape}.parquet")


@dataclass(slots=True)
class CacheEntry:
    """A loaded cache entry: the runs table (unprojected, every field) and its bookkeeping."""

    table: pa.Table
    complete: bool = False
    watermark: datetime | None = None
    filters_seen: tuple[str, ...] = ()
    fetched_at: str = ""
    full_at: str = ""
    seq: int = 0
    delta_rows: int = 0
    refreshed: dict[str, int] = field(default_factory=dict)
    scan_rows: int = 0
    """Runs the next refresh's scan expects above its cutoff (a hint kept in the file)."""


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """One cache entry, as listed by :meth:`RunsCache.info` (read from file metadata only)."""

    path: Path
    server: str
    entity: str
    project: str
    rows: int
    complete: bool
    fetched_at: str
    size: int


_Stamp = tuple[tuple[str, int, int], ...]


class RunsCache:
    """A directory of cached runs tables, shared by every ``Api`` pointed at it.

    Each entry is a base parquet file plus small delta files (one per refresh that changed
    something), compacted into a new base when they grow; every file is written atomically.

    Args:
        directory: Where files live (default :func:`default_cache_dir`).
        overlap: Seconds subtracted from the newest cached heartbeat when asking for changed
            runs (tolerates second-resolution timestamps and late writers).
        max_age: Seconds after which a complete entry is refetched in full (None: never);
            a safety net for edits that do not bump ``heartbeatAt``.
        list_ids: List every run ID on each refresh (True) instead of only when the
            server's run count disagrees with the cache (False, the default).

    Examples:
        >>> RunsCache("/tmp/wf-cache")
        <RunsCache /tmp/wf-cache>
    """

    compact_files = 8
    compact_fraction = 0.2
    scan_page = 100
    """Runs per page of the refresh's heartbeat-ordered scan (beyond the expected depth)."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        overlap: float = 60.0,
        max_age: float | None = None,
        list_ids: bool = False,
    ) -> None:
        if overlap < 0 or (max_age is not None and max_age <= 0):
            raise ConfigurationError("overlap must be >= 0 and max_age > 0 (or None)")
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.overlap = timedelta(seconds=overlap)
        self.max_age = max_age
        self.list_ids = list_ids
        self.lock = threading.RLock()
        self._memory: dict[Path, tuple[_Stamp, CacheEntry]] = {}

    def __repr__(self) -> str:
        return f"<RunsCache {self.directory}>"

    def path_for(self, key: CacheKey) -> Path:
        """The base file of ``key`` (delta files sit beside it: ``<stem>.d<seq>.parquet``)."""
        return self.directory / key.relative_path()

    @staticmethod
    def _deltas(base: Path) -> list[tuple[int, Path]]:
        found = []
        for path in base.parent.glob(f"{base.stem}.d*.parquet"):
            digits = path.name[len(base.stem) + 2 : -len(".parquet")]
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def _stamp(self, base: Path) -> _Stamp | None:
        try:
            files = [base, *(p for _, p in self._deltas(base))]
            stats = [(p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files]
        except FileNotFoundError:
            return None
        return tuple(stats)

    # -- reading -----------------------------------------------------------------------
    def load(self, key: CacheKey) -> CacheEntry | None:
        """The cached entry of ``key``; None when absent, of another format, or corrupt.

        Warns:
            CorruptRecordWarning: A file is damaged (the entry is removed; the caller refetches).
        """
        base = self.path_for(key)
        stamp = self._stamp(base)
        if stamp is None:
            self._memory.pop(base, None)
            return None
        remembered = self._memory.get(base)
        if remembered is not None and remembered[0] == stamp:
            return remembered[1]
        try:
            entry = self._read(base, key)
        except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                f"the cache file for {key.entity}/{key.project} is damaged ({type(exc).__name__}: "
                f"{exc}); it was removed and the runs are fetched again",
                CorruptRecordWarning,
                stacklevel=5,
            )
            self._discard(base)
            return None
        if entry is not None:
            self._memory[base] = (stamp, entry)
        return entry

    @staticmethod
    def _read_file(path: Path, key: CacheKey) -> tuple[dict[str, Any], pa.Table] | None:
        raw = (pq.read_metadata(path).metadata or {}).get(PROVENANCE_KEY)
        record = json.loads(raw) if raw else {}
        if record.get("cache_format") != CACHE_FORMAT:
            logger.debug("%s: cache format %r, refetching", path, record.get("cache_format"))
            return None
        if (record["server"], record["entity"], record["project"], record["projection"], record["sep"]) != (
            key.server, key.entity, key.project, key.projection, key.sep
        ):
            return None
        table = from_disk(pq.read_table(path, page_checksum_verification=True).replace_schema_metadata(None))
        if table.num_rows != record["row_count"] or ids_digest(table) != record["digest"]:
            raise ValueError("row count or content checksum does not match the file's metadata")
        return record, table

    def _read(self, base: Path, key: CacheKey) -> CacheEntry | None:
        read = self._read_file(base, key)
        if read is None:
            return None
        record, table = read
        seq = int(record.get("seq", 0))
        delta_rows = 0
        # Deltas are folded together first (small tables), then into the base once:
        # rows = the newest version of every run a delta wrote; gone = runs deleted since.
        rows_so_far: pa.Table | None = None
        gone: set[str] = set()
        for number, path in self._deltas(base):
            if number <= seq:
                continue
            delta = self._read_file(path, key)
            if delta is None or number != seq + 1:
                raise ValueError(f"delta file {path.name} does not continue the cache entry")
            record, rows = delta
            deleted = [str(i) for i in record.get("deleted") or ()]
            written = set(rows.column("id").to_pylist()) if rows.num_rows else set()
            rows_so_far = upsert_runs(rows_so_far, rows, drop_ids=deleted, sep=key.sep)
            gone = (gone | set(deleted)) - written
            seq, delta_rows = number, delta_rows + rows.num_rows
        if rows_so_far is not None:
            table = upsert_runs(table, rows_so_far, drop_ids=sorted(gone), sep=key.sep)
        watermark = record.get("watermark")
        return CacheEntry(
            table=table,
            complete=bool(record["complete"]),
            watermark=datetime.fromisoformat(watermark) if watermark else None,
            filters_seen=tuple(record.get("filters_seen") or ()),
            fetched_at=str(record.get("fetched_at", "")),
            full_at=str(record.get("full_at") or ""),
            seq=seq,
            delta_rows=delta_rows,
            scan_rows=int(record.get("scan_rows") or 0),
        )

    def peek(self, key: CacheKey) -> dict[str, Any] | None:
        """The bookkeeping record of ``key``'s newest file, read without its rows.

        Returns:
            None when nothing is cached, the entry is already in memory, or the metadata
            cannot be read (:meth:`load` then decides).
        """
        base = self.path_for(key)
        stamp = self._stamp(base)
        remembered = self._memory.get(base)
        if stamp is None or (remembered is not None and remembered[0] == stamp):
            return None
        try:
            record = _record(base)
            later = [p for n, p in self._deltas(base) if n > int(record.get("seq", 0))]
            return {**record, **_record(later[-1])} if later else record
        except (OSError, pa.ArrowException, ValueError):
            return None

    # -- writing -----------------------------------------------------------------------
    def store(
        self,
        key: CacheKey,
        entry: CacheEntry,
        *,
        changed: pa.Table | None = None,
        deleted: Sequence[str] = (),
    ) -> None:
        """Persist ``entry`` atomically (temp file + rename): a crash leaves the old state.

        With ``changed`` (the fresh rows merged into ``entry.table``) and ``deleted``, only a
        small delta file is written, unless the deltas are due for compaction.

        Raises:
            CacheError: The cache directory is not writable.
        """
        base = self.path_for(key)
        previous = entry.seq
        as_delta = (
            changed is not None
            and base.exists()
            and len(self._deltas(base)) < self.compact_files
            and entry.delta_rows + changed.num_rows <= self.compact_fraction * max(entry.table.num_rows, 1)
        )
        entry.seq = previous + 1 if as_delta else previous
        table = changed if as_delta and changed is not None else entry.table
        record = provenance(
            cache_format=CACHE_FORMAT, server=key.server, entity=key.entity, project=key.project,
            projection=key.projection, sep=key.sep, complete=entry.complete,
            watermark=entry.watermark.isoformat() if entry.watermark else None,
            filters_seen=list(entry.filters_seen), full_at=entry.full_at or None, seq=entry.seq,
            deleted=list(deleted) if as_delta else [], digest=ids_digest(table),
            total_rows=entry.table.num_rows, scan_rows=entry.scan_rows,
        )
        entry.fetched_at = str(record["fetched_at"])
        target = base.with_name(f"{base.stem}.d{entry.seq:06d}.parquet") if as_delta else base
        try:
            write_parquet(table, target, metadata=record, compression="lz4", checksum=True)
        except ExportError as exc:
            raise CacheError(f"could not write the runs cache under {self.directory}: {exc}") from exc
        if as_delta and changed is not None:
            entry.delta_rows += changed.num_rows
        else:
            entry.delta_rows = 0
            for _, path in self._deltas(base):  # folded into the new base
                path.unlink(missing_ok=True)
        stamp = self._stamp(base)
        if stamp is not None:
            self._memory[base] = (stamp, entry)

    def _discard(self, base: Path) -> None:
        self._memory.pop(base, None)
        for path in [base, *(p for _, p in self._deltas(base))]:
            path.unlink(missing_ok=True)

    # -- housekeeping --------------------------------------------------------------------
    def forget(self) -> None:
        """Drop the in-memory copies (files stay; ``api.flush()`` calls this)."""
        with self.lock:
            self._memory.clear()

    def _files(self) -> list[Path]:
        root = self.directory / "runs"
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob("*/*/*/*.parquet") if ".d" not in p.name)

    def info(self) -> list[CacheInfo]:
        """Every cache entry under the directory (damaged files are listed with 0 rows)."""
        out: list[CacheInfo] = []
        for path in self._files():
            try:
                record = _record(path)
            except (OSError, pa.ArrowException, ValueError):
                record = {}
            deltas = [p for n, p in self._deltas(path) if n > int(record.get("seq", 0))]
            if deltas:
                try:
                    record = {**record, **_record(deltas[-1])}
                except (OSError, pa.ArrowException, ValueError):
                    pass
            out.append(CacheInfo(
                path=path, server=str(record.get("server", "?")), entity=str(record.get("entity", "?")),
                project=str(record.get("project", "?")),
                rows=int(record.get("total_rows", record.get("row_count", 0))),
                complete=bool(record.get("complete", False)), fetched_at=str(record.get("fetched_at", "")),
                size=sum(p.stat().st_size for p in [path, *deltas]),
            ))
        return out

    def clear(self, entity: str | None = None, project: str | None = None) -> int:
        """Remove cache entries (all, or those of ``entity`` and/or ``project``); returns the count.

        The cached histories of the same projects (``histories/``) are removed too (not counted).
        """
        removed = 0
        with self.lock:
            self._memory.clear()
            for item in self.info():
                if (entity is None or item.entity == entity) and (project is None or item.project == project):
                    self._discard(item.path)
                    removed += 1
                    _prune_empty(item.path.parent, self.directory)
            histories = self.directory / "histories"
            pattern = f"*/{'*' if entity is None else _segment(entity)}/{'*' if project is None else _segment(project)}"
            for folder in sorted(histories.glob(pattern)) if histories.is_dir() else ():
                for path in sorted(folder.rglob("*.parquet"), reverse=True):
                    path.unlink(missing_ok=True)
                    _prune_empty(path.parent, self.directory)
        return removed


def _record(path: Path) -> dict[str, Any]:
    raw = (pq.read_metadata(path).metadata or {}).get(PROVENANCE_KEY)
    record = json.loads(raw) if raw else {}
    if not isinstance(record, dict):
        raise ValueError(f"{path.name}: the provenance metadata is not an object")
    return record


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def resolve_cache(cache: bool | str | os.PathLike[str] | RunsCache | None) -> RunsCache | None:
    """``Api(cache=...)``: None/False → no cache; True → the default dir; a path; a RunsCache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return RunsCache()
    if isinstance(cache, RunsCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return RunsCache(cache)
    raise ConfigurationError(f"cache must be None, a bool, a path or a RunsCache, got {type(cache).__name__}")
