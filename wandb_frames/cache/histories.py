"""Histories in the on-disk cache: a run's long history, kept once the run can no longer change.

``Api(cache=...)`` keeps runs tables (``cache.py``); this module keeps, beside them, the long
history table of each run fetched by ``Runs.history_frames()``:
``histories/<server hash>/<entity>/<project>/<run id>/<query hash>.parquet``. The query hash
covers the stream, keys and step range, so a different question is a different file.

Only runs in a final state (finished, crashed, failed, killed, preempted) are stored, stamped with
their state and ``heartbeat_at`` from the runs table: a run that resumes gets a new
heartbeat, and its stale history is fetched again. Files are written atomically with page
checksums; a damaged file warns (``CorruptRecordWarning``), is removed, and is fetched again.
Never stored: the API key (``export.provenance`` refuses secret-looking fields).
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wandb_frames.cache.store import RunsCache, _record, _segment, safe_url
from wandb_frames.errors import CacheError, CorruptRecordWarning, ExportError
from wandb_frames.export import from_disk, provenance, write_parquet
from wandb_frames.history.frames import LongPart

__all__ = ["FINAL_STATES", "HistoryQuery", "cached_fetch", "history_cache_wrap", "history_token", "query_for",
           "run_tokens"]

logger = logging.getLogger("wandb_frames.cache.store")

HISTORY_FORMAT = 1
FINAL_STATES = frozenset({"finished", "crashed", "failed", "killed", "preempted"})
"""Run states after which a run's history no longer grows (unless it is resumed)."""

Fetch = Callable[[str], LongPart]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What a cached history answers: where, which stream, which keys and steps."""

    server: str
    entity: str
    project: str
    stream: str
    keys: tuple[str, ...] | None
    min_step: int | None
    max_step: int | None

    def shape(self) -> str:
        """The query's own part of the file name (stream, keys, steps)."""
        text = json.dumps([self.stream, self.keys, self.min_step, self.max_step])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, cache: RunsCache, run_id: str) -> Path:
        """Where the history of ``run_id`` for this query lives."""
        host = hashlib.sha256(safe_url(self.server).encode()).hexdigest()[:16]
        return (cache.directory / "histories" / host / _segment(self.entity) / _segment(self.project)
                / _segment(run_id) / f"{self.shape()}.parquet")


def history_token(state: Any, heartbeat_at: Any) -> str | None:
    """The stamp a cached history must carry to be reused; None: do not cache (still running)."""
    if state not in FINAL_STATES or not isinstance(heartbeat_at, datetime):
        return None
    return f"{state}|{heartbeat_at.isoformat()}"


def _load(path: Path, query: HistoryQuery, run_id: str, token: str) -> LongPart | None:
    if not path.exists():
        return None
    try:
        record = _record(path)
        expected = [HISTORY_FORMAT, safe_url(query.server), query.entity, query.project, run_id, query.shape()]
        found = [record.get(k) for k in ("history_format", "server", "entity", "project", "run_id", "shape")]
        if found != expected or record.get("stamp") != token:
            return None  # another format, or the run changed since: fetch again (and overwrite)
        table = from_disk(pq.read_table(path, page_checksum_verification=True).replace_schema_metadata(None))
        if table.num_rows != record["row_count"]:
            raise ValueError("row count does not match the file's metadata")
        skipped = {str(k): int(v) for k, v in dict(record.get("skipped") or {}).items()}
        return LongPart(table, skipped)
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
        warnings.warn(
            f"the cached history of run {query.entity}/{query.project}/{run_id} is damaged "
            f"({type(exc).__name__}: {exc}); it was removed and is fetched again",
            CorruptRecordWarning,
            stacklevel=4,
        )
        path.unlink(missing_ok=True)
        return None


def _store(path: Path, query: HistoryQuery, run_id: str, token: str, part: LongPart) -> None:
    record = provenance(
        history_format=HISTORY_FORMAT, server=safe_url(query.server), entity=query.entity,
        project=query.project, run_id=run_id, shape=query.shape(), stream=query.stream,
        keys=list(query.keys) if query.keys is not None else None, min_step=query.min_step,
        max_step=query.max_step, stamp=token, skipped=part.skipped, row_count=part.table.num_rows,
    )
    try:
        write_parquet(part.table, path, metadata=record, compression="lz4", checksum=True)
    except ExportError as exc:
        raise CacheError(f"could not write the history cache under {path.parent}: {exc}") from exc


def cached_fetch(
    cache: RunsCache,
    query: HistoryQuery,
    tokens: dict[str, str | None],
    fetch: Fetch,
    *,
    offline: bool = False,
) -> Fetch:
    """Wrap a per-run history fetch with the cache.

    Args:
        cache: The Api's cache (its directory).
        query: What is fetched.
        tokens: run ID → :func:`history_token` (None: never cached).
        fetch: The per-run fetch to call on a miss.
        offline: Answer from the cache only: a miss raises :class:`CacheError`.

    Returns:
        A fetch with the same signature.
    """

    def fetch_one(run_id: str) -> LongPart:
        token = tokens.get(run_id)
        path = query.path(cache, run_id)
        if token is not None:
            part = _load(path, query, run_id, token)
            if part is not None:
                return part
        if offline:
            raise CacheError(
                f"offline: the history of run {query.entity}/{query.project}/{run_id} is not in the cache"
                + ("" if token is not None else " (only runs in a final state are cached)")
            )
        part = fetch(run_id)
        if token is not None:
            _store(path, query, run_id, token, part)
        return part

    return fetch_one


def query_for(server: str, entity: str, project: str, stream: str, keys: Sequence[str] | None,
              min_step: int | None, max_step: int | None) -> HistoryQuery:
    """A :class:`HistoryQuery` with ``keys`` normalised to a tuple (order kept)."""
    return HistoryQuery(server, entity, project, stream, tuple(keys) if keys is not None else None,
                        min_step, max_step)


def run_tokens(table: pa.Table) -> dict[str, str | None]:
    """run ID → :func:`history_token`, from a runs table's ``state`` and ``heartbeat_at``."""
    names = table.column_names
    ids = table.column("id").to_pylist() if table.num_rows else []
    states = table.column("state").to_pylist() if "state" in names else [None] * len(ids)
    beats = table.column("heartbeat_at").to_pylist() if "heartbeat_at" in names else [None] * len(ids)
    return {i: history_token(s, b) for i, s, b in zip(ids, states, beats, strict=True)}


def history_cache_wrap(
    api: Any, entity: str, project: str, tokens: Callable[[], dict[str, str | None]], *,
    stream: str, keys: Sequence[str] | None, min_step: int | None, max_step: int | None,
    offline: bool = False,
) -> Callable[[Fetch], Fetch] | None:
    """Wraps a per-run history fetch with ``api``'s cache; None when the Api has no cache.

    ``tokens`` (called only with a cache) gives each run's :func:`history_token`.
    """
    cache = getattr(api, "cache", None)
    if cache is None:
        return None
    query = query_for(api.settings.base_url, entity, project, stream, keys, min_step, max_step)
    stamps = tokens()

    def wrap(fetch: Fetch) -> Fetch:
        return cached_fetch(cache, query, stamps, fetch, offline=offline)

    return wrap
