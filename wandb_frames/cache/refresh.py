"""The requests of an incremental cache refresh: a heartbeat-ordered scan and run lookups.

No request of a refresh carries a filter (``docs/cache.md``, "Incremental refresh"):

- :func:`scan` lists the project's runs ordered by ``-heartbeat_at`` with every field,
  page by page, until a page reaches heartbeats older than the plan's cutoff. Consecutive
  pages overlap by :data:`SCAN_OVERLAP` runs; a page that shares no run (same ID and
  heartbeat) with what the scan has already seen means the offset window moved past
  unseen runs (runs deleted ahead of it), and the scan restarts.
- :func:`lookup` fetches single runs by name (``CacheRun``), a few at a time.
- :func:`plan_scan` decides, from the cached heartbeats alone, how deep the scan goes and
  which unfinished cached runs are looked up instead (far down the heartbeat order, e.g.
  runs left ``running`` by a dead process).

Heartbeats are compared as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.cache.store import NON_FINAL_STATES
from wandb_frames.errors import NotFoundError, ProtocolError
from wandb_frames.graphql import documents
from wandb_frames.graphql.pagination import iter_pages
from wandb_frames.tabular.decode import parse_timestamp

if TYPE_CHECKING:
    from wandb_frames.graphql.listing import ListingQuery
    from wandb_frames.graphql.pagination import Execute

__all__ = [
    "CACHE_RUN",
    "SCAN_ORDER",
    "CachedRuns",
    "Scan",
    "ScanPlan",
    "head_page",
    "kept_nodes",
    "lookup",
    "micros",
    "plan_scan",
    "scan",
]

CACHE_RUN = documents.DOCUMENTS["cache_run.graphql"]
SCAN_ORDER = "-heartbeat_at"
"""The scan's order: newest heartbeat first (the server keeps such listings sorted)."""
SCAN_OVERLAP = 2
"""Runs each page repeats from the previous one, to detect a shifted offset window."""
SCAN_MAX_PAGE = 1000
SCAN_RESTARTS = 2
"""Restarts after a shifted window before the refresh falls back to a filtered listing."""
LOOKUP_ROWS = 10
"""A single-run lookup costs about as much as scanning this many more rows (measured)."""
LOOKUP_WORKERS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(value: datetime | str | None) -> int | None:
    """A heartbeat (datetime or wire ISO text) as microseconds since the epoch; None stays None."""
    if value is None:
        return None
    when = parse_timestamp(value)
    return (when - _EPOCH) // _MICRO


@dataclass(frozen=True, slots=True)
class CachedRuns:
    """What the refresh needs to know about the cached rows: heartbeats and unfinished runs."""

    heartbeats: dict[str, int | None]
    unfinished: frozenset[str]

    @classmethod
    def of(cls, table: pa.Table) -> CachedRuns:
        """Read ``id``, ``heartbeat_at`` and ``state`` of a cached runs table."""
        if "id" not in table.column_names or table.num_rows == 0:
            return cls({}, frozenset())
        ids = table.column("id").to_pylist()
        beats: list[int | None] = [None] * len(ids)
        if "heartbeat_at" in table.column_names:
            column = table.column("heartbeat_at").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            beats = column.to_pylist()
        unfinished: frozenset[str] = frozenset()
        if "state" in table.column_names:
            mask = pc.is_in(table.column("state"), value_set=pa.array(NON_FINAL_STATES, pa.string()))
            unfinished = frozenset(table.column("id").filter(mask).to_pylist())
        return cls(dict(zip(ids, beats, strict=True)), unfinished)


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """How a refresh asks for changed runs.

    Attributes:
        since: Runs with a heartbeat at or after this are refetched (watermark - overlap).
        cutoff: The scan stops after a page that reaches a heartbeat older than this
            (None: no scan).
        expected_rows: Cached runs at or above the cutoff (sizes the first page).
        lookups: Unfinished cached runs below the cutoff: looked up one by one unless the
            scan meets them anyway.
    """

    since: int | None
    cutoff: int | None
    expected_rows: int
    lookups: tuple[str, ...]


def plan_scan(cached: CachedRuns, since: int | None) -> ScanPlan:
    """Choose the scan depth: reach unfinished runs by scanning while that is cheaper.

    Scanning one more run costs about ``1``; looking a run up about :data:`LOOKUP_ROWS`.
    The depth of a cached heartbeat is estimated by the number of cached runs at or above
    it (a heartbeat only grows, so the run is at least that high in the server's order).
    """
    ordered = np.sort(np.fromiter((h for h in cached.heartbeats.values() if h is not None), np.int64))

    def depth(beat: int) -> int:
        return int(len(ordered) - np.searchsorted(ordered, beat, side="left"))

    nulls = sorted(i for i in cached.unfinished if cached.heartbeats.get(i) is None)
    dated = sorted(((cached.heartbeats[i] or 0, i) for i in cached.unfinished if i not in nulls),
                   reverse=True)
    base = depth(since) if since is not None else 0
    best, best_cost = 0, LOOKUP_ROWS * len(dated)
    for k, (beat, _) in enumerate(dated, start=1):
        cost = max(0, depth(beat) - base) + LOOKUP_ROWS * (len(dated) - k)
        if cost < best_cost:
            best, best_cost = k, cost
    bounds = [b for b in (since, dated[best - 1][0] if best else None) if b is not None]
    cutoff = min(bounds) if bounds else None
    return ScanPlan(since=since, cutoff=cutoff, expected_rows=depth(cutoff) if cutoff is not None else 0,
                    lookups=tuple(i for _, i in dated[best:]) + tuple(nulls))


_Page = tuple[list[dict[str, Any]], list[dict[str, Any]], bool]


def _variables(query: ListingQuery) -> dict[str, Any]:
    return dataclasses.replace(query, order=SCAN_ORDER, filters_json="{}").variables(with_count=False)


def _first_page(
    execute: Execute, variables: Mapping[str, Any], size: int, cursor: str | None, what: str
) -> _Page:
    page = next(iter_pages(execute, documents.RUNS_PAGE, variables, page_size=size, cursor=cursor, what=what))
    return page.nodes, page.edges, page.has_next_page


def head_page(execute: Execute, query: ListingQuery, size: int) -> tuple[int, _Page]:
    """The scan's first page, fetched ahead (while the cache file is read); for :func:`scan`."""
    size = min(SCAN_MAX_PAGE, max(SCAN_OVERLAP + 1, size))
    return size, _first_page(execute, _variables(query), size, None, query.what)


def _passed(nodes: Sequence[Mapping[str, Any]], cutoff: int, dated_seen: bool) -> bool:
    """Whether the listing has gone below ``cutoff`` (missing heartbeats sort last, or first)."""
    beats = [micros(n.get("heartbeatAt")) for n in nodes]
    dated = [b for b in beats if b is not None]
    if dated and dated[-1] < cutoff:
        return True
    # a page ending in runs without a heartbeat, after dated ones: the dated runs are done
    return bool(beats) and beats[-1] is None and (dated_seen or bool(dated))


@dataclass(frozen=True, slots=True)
class Scan:
    """What a scan read: raw nodes by name, and the newest heartbeat when it started."""

    found: dict[str, dict[str, Any]]
    top: int | None = None


def scan(
    execute: Execute, query: ListingQuery, plan: ScanPlan, *, page_size: int,
    head: Future[tuple[int, _Page]] | None = None,
) -> Scan | None:
    """Every run down to ``plan.cutoff`` in ``-heartbeat_at`` order, by name (raw nodes).

    ``head`` is a first page already on its way (:func:`head_page`); it is used instead of
    requesting one (further pages follow from it when it does not reach the cutoff).

    Returns:
        The nodes (a run read twice keeps its latest reading) and the first page's newest
        heartbeat, or None when the listing shifted under the scan more than
        :data:`SCAN_RESTARTS` times.

    Raises:
        ApiError: A request failed (``NotFoundError`` for a missing project).
    """
    if plan.cutoff is None:
        return Scan({})
    variables = _variables(query)
    first = min(SCAN_MAX_PAGE, max(SCAN_OVERLAP + 1, page_size + plan.expected_rows))
    for attempt in range(SCAN_RESTARTS + 1):
        found: dict[str, dict[str, Any]] = {}
        seen: set[tuple[Any, Any]] = set()
        cursor, size, shifted, top = None, first, False, None
        while True:
            if attempt == 0 and cursor is None and head is not None:
                size, (nodes, edges, more) = head.result()
            else:
                nodes, edges, more = _first_page(execute, variables, size, cursor, query.what)
            stamps = [(n.get("name"), n.get("heartbeatAt")) for n in nodes]
            if cursor is not None and nodes and seen.isdisjoint(stamps):
                shifted = True  # the window moved past runs this scan has not read
                break
            if cursor is None:
                top = max((b for b in (micros(h) for _, h in stamps) if b is not None), default=None)
            dated_seen = any(h is not None for _, h in seen)
            seen.update(stamps)
            found.update((str(n["name"]), n) for n in nodes if isinstance(n.get("name"), str))
            if not more or not nodes or _passed(nodes, plan.cutoff, dated_seen):
                break
            back = min(SCAN_OVERLAP, len(edges) - 1)
            cursor = edges[-1 - back].get("cursor")
            if not isinstance(cursor, str) or not cursor:
                raise ProtocolError("RunsPage: an edge without a cursor", operation=documents.RUNS_PAGE.operation)
            size = min(SCAN_MAX_PAGE, size * 2)  # many changes: fewer, larger pages
        if not shifted:
            return Scan(found, top)
    return None


def kept_nodes(found: Mapping[str, dict[str, Any]], cached: CachedRuns, since: int | None) -> list[dict[str, Any]]:
    """The scanned runs a refresh must merge: changed, new, or unfinished when cached.

    Kept: a heartbeat at or after ``since``, a run the cache lacks, a run the cache holds
    as unfinished, or a heartbeat that differs from the cached one. The rest of the scan
    (unchanged finished runs near the cutoff) is dropped.
    """
    out = []
    for name, node in found.items():
        beat = micros(node.get("heartbeatAt"))
        if (
            (since is not None and beat is not None and beat >= since)
            or name not in cached.heartbeats
            or name in cached.unfinished
            or cached.heartbeats[name] != beat
        ):
            out.append(node)
    return out


def lookup(
    execute: Execute, query: ListingQuery, names: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Fetch runs one by one (``CacheRun``, :data:`LOOKUP_WORKERS` at a time).

    Returns:
        The nodes found, and the names the server no longer has.

    Raises:
        NotFoundError: The project is gone.
    """
    base = {k: v for k, v in query.variables(with_count=False).items()
            if k in ("entity", "project", "withConfig", "withSummary", "withSystem",
                     "withMetadata", "metadataNames")}
    one: Callable[[str], Any] = lambda name: execute(CACHE_RUN, {**base, "name": name})  # noqa: E731
    if len(names) > 1:
        with ThreadPoolExecutor(max_workers=LOOKUP_WORKERS, thread_name_prefix="wandb-frames-cache") as pool:
            answers = list(pool.map(one, names))
    else:
        answers = [one(name) for name in names]
    nodes: list[dict[str, Any]] = []
    gone: list[str] = []
    for name, data in zip(names, answers, strict=True):
        project = data.get("project") if isinstance(data, Mapping) else None
        if not isinstance(project, Mapping):
            raise NotFoundError(f"{query.what} not found", operation=CACHE_RUN.operation, what=query.what)
        node = project.get("run")
        if isinstance(node, dict):
            nodes.append(node)
        else:
            gone.append(name)
    return nodes, gone
