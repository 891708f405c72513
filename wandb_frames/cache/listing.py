"""How ``Runs`` answers through the on-disk cache: full fetch, incremental refresh, offline.

Rules (``docs/cache.md``):

- A cache entry is *complete* after an unfiltered fetch; then every call refreshes it
  incrementally (changed runs + an ID listing) and answers its filter, order and limit
  locally.
- Without a complete entry, a filtered (or limited) call fetches what it asks for from the
  server, exactly as without a cache, and merges those rows into the entry.
- ``offline=True`` never sends a request: a complete entry answers any filter; an
  incomplete one only a filter it has fetched before.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames import filters as wff
from wandb_frames.cache.merge import merge_tables, sort_runs, upsert_runs
from wandb_frames.cache.refresh import SCAN_MAX_PAGE, CachedRuns, head_page, kept_nodes, lookup, micros, plan_scan, scan
from wandb_frames.cache.store import CacheEntry, CacheKey, RunsCache, safe_url
from wandb_frames.errors import CacheError, NotFoundError, UnsupportedFilterError
from wandb_frames.graphql import documents
from wandb_frames.graphql.pagination import iter_pages
from wandb_frames.graphql.snapshot import TABLE_BATCH, batch_limiter, iter_snapshot_node_pages
from wandb_frames.progress import make_progress
from wandb_frames.graphql.records import decode_nodes
from wandb_frames.tabular import TableAssembler, empty_runs_table, flatten_run

if TYPE_CHECKING:
    from wandb_frames.graphql.listing import ListingQuery
    from wandb_frames.graphql.plan import QueryPlan
    from wandb_frames.graphql.session import Session

__all__ = ["CachedListing", "cache_key", "cached_table"]

logger = logging.getLogger("wandb_frames.cache.store")
ID_BATCH = 500
DELTA_PAGE = 1000
ID_LIST_PAGE = 5000
MISSING_LOOKUPS = 100
"""New runs (found by the ID listing) up to this many are looked up one by one, more by ``$in``."""


@dataclasses.dataclass(frozen=True, slots=True)
class CachedListing:
    """What a runs listing asks of the cache: the source to fetch from and the query to answer.

    ``Runs`` builds one; the cache never sees the object that asked.
    """

    session: Session
    """Sends the requests (the cache's own and the listing's page fetches)."""
    entity: str
    project: str
    filters: Any
    """The filter as the user gave it (re-parsed to answer it from a cached table)."""
    plan: QueryPlan
    query: ListingQuery
    """The listing's own query (its projection); the cache widens it to every field."""
    with_metadata: bool
    per_page: int
    limit: int | None
    sep: str
    progress: bool | None
    concurrency: int | None
    offline: bool

    @property
    def path(self) -> str:
        """``"entity/project"``."""
        return f"{self.entity}/{self.project}"


def cache_key(runs: CachedListing) -> CacheKey:
    """The cache file that holds ``runs`` (never the API key)."""
    # Rows are cached whole (``columns=`` selects afterwards); only the per-run
    # metadata download changes what a row holds.
    projection = json.dumps({"metadata": runs.with_metadata}, sort_keys=True)
    return CacheKey(safe_url(runs.session.settings.base_url), runs.entity, runs.project, projection, runs.sep)


def cached_table(runs: CachedListing, cache: RunsCache | None = None) -> pa.Table:
    """The table of ``runs`` (filtered, ordered, limited; every column) through ``cache``.

    Args:
        runs: The listing to answer.
        cache: The cache; default: a :class:`RunsCache` in the default directory.

    Raises:
        CacheError: ``offline`` and the cache cannot answer, or the cache is unwritable.
        ApiError: A request failed.
    """
    cache = cache if cache is not None else RunsCache()
    key = cache_key(runs)
    plan = runs.plan
    with cache.lock, ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-cache") as ahead:
        head = None if runs.offline else _head_ahead(runs, cache, key, ahead)
        entry = cache.load(key)
        if runs.offline:
            return _offline(runs, cache, key, entry)
        if entry is not None and entry.complete and not _expired(entry, cache):
            entry = _refresh(runs, cache, key, entry, head)
            answer = _answer_whole(runs, entry.table)
            if answer is not None:
                return answer
        elif (plan.server_filters == "{}" and runs.limit is None) or (entry is not None and entry.complete):
            table = sort_runs(_fetch_table(runs, "{}"))
            now = datetime.now(UTC).isoformat()
            entry = CacheEntry(table, complete=True, watermark=_newest(table), filters_seen=("{}",),
                               full_at=now)
            if entry.watermark is not None:
                next_plan = plan_scan(CachedRuns.of(table), micros(entry.watermark - cache.overlap))
                entry.scan_rows = next_plan.expected_rows
            cache.store(key, entry)
            answer = _answer_whole(runs, table)
            if answer is not None:
                return answer
        return _fetch_and_merge(runs, cache, key, entry)


def _head_ahead(runs: CachedListing, cache: RunsCache, key: CacheKey, pool: ThreadPoolExecutor) -> Future[Any] | None:
    """Start a refresh scan's first page while the cache file is read (not yet in memory).

    Only for a complete, unexpired entry with a watermark; ``scan_page`` runs plus the
    file's hint (the runs the previous scan needed above its cutoff).
    """
    record = cache.peek(key)
    if not record or not record.get("complete") or not record.get("watermark"):
        return None
    if _expired(CacheEntry(empty_runs_table(), full_at=str(record.get("full_at") or "")), cache):
        return None
    size = min(SCAN_MAX_PAGE, cache.scan_page + int(record.get("scan_rows") or 0))
    return pool.submit(head_page, runs.session.execute, _full_query(runs, "{}"), size)


def _fetch_and_merge(runs: CachedListing, cache: RunsCache, key: CacheKey, entry: CacheEntry | None) -> pa.Table:
    """Fetch what the call asks for from the server and merge the rows into the entry."""
    plan = runs.plan
    limit = runs.limit if plan.exact_on_server else None
    fresh = _fetch_table(runs, plan.server_filters, limit=limit)
    seen = entry.filters_seen if entry is not None else ()
    if limit is None and plan.server_filters not in seen:
        seen = (*seen, plan.server_filters)
    merged = upsert_runs(entry.table if entry is not None else None, fresh, sep=runs.sep)
    updated = (
        dataclasses.replace(entry, table=merged, filters_seen=seen)
        if entry is not None
        else CacheEntry(merged, filters_seen=seen)
    )
    cache.store(key, updated, changed=fresh)
    table = fresh
    if plan.local is not None:
        table = wff.apply(table, plan.local)
    if plan.sort_locally and plan.order is not None:
        table = wff.sort_table(table, plan.order)
    if runs.limit is not None:
        table = table.slice(0, runs.limit)
    return table


def _offline(runs: CachedListing, cache: RunsCache, key: CacheKey, entry: CacheEntry | None) -> pa.Table:
    where = f"{key.entity}/{key.project} on {key.server} in {cache.directory}"
    if entry is None:
        raise CacheError(
            f"offline: nothing is cached for {where}; fetch it once online with "
            "Api(cache=...) (same server, project, sep and metadata columns)"
        )
    if not entry.complete and runs.plan.server_filters not in entry.filters_seen:
        raise CacheError(
            f"offline: the cache for {where} holds only the runs of other filtered fetches and "
            "cannot answer this filter; fetch the project once online without a filter"
        )
    answer = _answer_whole(runs, entry.table)
    if answer is None:
        raise CacheError(f"offline: this filter can only be evaluated by the server ({where})")
    return answer


def _answer_whole(runs: CachedListing, table: pa.Table) -> pa.Table | None:
    """Apply the whole filter, the order and the limit locally (None: not evaluable here)."""
    plan = runs.plan
    try:
        parsed = wff.parse_filter(runs.filters)
        if parsed is not None:
            table = wff.apply(table, parsed)
        if plan.order is not None and not _canonical(plan.order):
            table = wff.sort_table(table, plan.order)
    except UnsupportedFilterError as exc:
        logger.debug("%s: cache cannot evaluate the filter locally (%s); asking the server", runs.path, exc)
        return None
    if runs.limit is not None:
        table = table.slice(0, runs.limit)
    return table


def _canonical(order: wff.Order) -> bool:
    """``+created_at`` is the cache's own row order (ties by ``id``, as ``sort_table``)."""
    return order.column == "created_at" and not order.descending


def _expired(entry: CacheEntry, cache: RunsCache) -> bool:
    if cache.max_age is None or not entry.full_at:
        return False
    age = datetime.now(UTC) - datetime.fromisoformat(entry.full_at)
    return age.total_seconds() > cache.max_age


def _newest(table: pa.Table) -> datetime | None:
    if "heartbeat_at" not in table.column_names or table.num_rows == 0:
        return None
    value = pc.max(table.column("heartbeat_at")).as_py()
    return value if isinstance(value, datetime) else None


def _refresh(
    runs: CachedListing, cache: RunsCache, key: CacheKey, entry: CacheEntry, head: Future[Any] | None = None
) -> CacheEntry:
    """Fetch runs changed since the watermark; detect new and deleted runs; merge; store.

    No request carries a filter (``docs/cache.md``): a ``-heartbeat_at`` scan down to the
    watermark minus the overlap, single-run lookups of unfinished cached runs the scan does
    not reach, and the project's run count (in parallel); only when the count disagrees
    with the merged rows (or with ``RunsCache(list_ids=True)``) are all run IDs listed.
    """
    known = CachedRuns.of(entry.table)
    since = micros(entry.watermark - cache.overlap) if entry.watermark is not None else None
    plan = plan_scan(known, since)
    query = _full_query(runs, "{}")
    execute = runs.session.execute
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-cache") as pool:
        ids_future = pool.submit(_list_ids, runs) if cache.list_ids else None
        count_future = None if cache.list_ids else pool.submit(_count, runs)
        scanned = scan(execute, query, plan, page_size=cache.scan_page, head=head)
        if scanned is None:  # the listing kept shifting under the scan: ask the server once
            logger.debug("%s: the heartbeat listing shifted during the scan; filtered fallback", runs.path)
            since_text = datetime.fromtimestamp((plan.cutoff or 0) / 1e6, UTC)
            fallback = wff.to_server_json(wff.parse_filter({"heartbeat_at": {"$gte": since_text}}))
            fresh = _fetch_table(runs, fallback, per_page=max(runs.per_page, DELTA_PAGE))
            found: dict[str, Any] = {}
            nodes: list[dict[str, Any]] = []
        else:
            found, nodes, fresh = scanned.found, kept_nodes(scanned.found, known, since), None
        ended = [i for i in plan.lookups if i not in found]
        looked, gone = lookup(execute, query, ended) if ended else ([], [])
        fresh = _merge_nodes(runs, fresh, [*nodes, *looked])
        listed = ids_future.result() if ids_future is not None else None
        count = count_future.result() if count_future is not None else None
    cached_ids = set(known.heartbeats)
    fresh_ids = set(fresh.column("id").to_pylist()) if fresh.num_rows else set()
    if count is not None and count != len((cached_ids - set(gone)) | fresh_ids):
        listed = _list_ids(runs)
    missing: list[str] = []
    deleted = set(gone)
    if listed is not None:
        missing = [i for i in listed if i not in cached_ids and i not in fresh_ids]
        if len(missing) <= MISSING_LOOKUPS:  # new runs with an old heartbeat
            fresh = _merge_nodes(runs, fresh, lookup(execute, query, missing)[0])
        for start in range(0, len(missing) if len(missing) > MISSING_LOOKUPS else 0, ID_BATCH):
            batch = orjson.dumps({"name": {"$in": missing[start : start + ID_BATCH]}}).decode()
            fresh = merge_tables(fresh, _fetch_table(runs, batch), sep=runs.sep)
        fresh_ids.update(missing)
        deleted |= cached_ids - set(listed) - fresh_ids
    stats = {"changed": len(fresh_ids) - len(missing), "added": len(missing), "deleted": len(deleted),
             "listed_ids": int(listed is not None), "scanned": len(found), "looked_up": len(ended)}
    logger.debug("%s: refreshed from cache: %s", runs.path, stats)
    if fresh.num_rows == 0 and not deleted:
        entry.refreshed = stats
        return entry
    merged = upsert_runs(entry.table, fresh, drop_ids=sorted(deleted), sep=runs.sep)
    watermark = _newest(merged) or entry.watermark
    if scanned is not None and scanned.top is not None and watermark is not None:
        # runs whose heartbeat moved during the scan are at least as new as its first page
        watermark = min(watermark, datetime.fromtimestamp(scanned.top / 1e6, UTC))
    updated = dataclasses.replace(entry, table=merged, watermark=watermark, refreshed=stats,
                                  scan_rows=max(plan.expected_rows, len(found) - cache.scan_page))
    cache.store(key, updated, changed=fresh, deleted=sorted(deleted))
    return updated


def _merge_nodes(runs: CachedListing, table: pa.Table | None, nodes: list[dict[str, Any]]) -> pa.Table:
    """``table`` plus the decoded ``nodes`` (the nodes win for a run in both)."""
    if not nodes:
        return table if table is not None else empty_runs_table()
    assembler = TableAssembler(sep=runs.sep)
    records = decode_nodes(runs.session, nodes, runs.entity, runs.project)
    assembler.add([flatten_run(r, sep=runs.sep) for r in records])
    added = assembler.finish()
    return upsert_runs(table, added, sep=runs.sep) if table is not None and table.num_rows else added


def _count(runs: CachedListing) -> int:
    data = runs.session.execute(documents.RUN_COUNT, {"entity": runs.entity, "project": runs.project,
                                                   "filters": "{}"})
    project = data.get("project")
    if not isinstance(project, dict):
        raise NotFoundError(f"project {runs.path} not found", operation=documents.RUN_COUNT.operation,
                            what=f"project {runs.path}")
    return int(project["runCount"])


def _list_ids(runs: CachedListing) -> list[str]:
    variables = {"entity": runs.entity, "project": runs.project, "filters": "{}",
                 "order": "+created_at", "withCount": False}
    ids: list[str] = []
    for page in iter_pages(runs.session.execute, documents.RUN_IDS_PAGE, variables,
                           page_size=ID_LIST_PAGE, what=f"project {runs.path}"):
        ids.extend(n["name"] for n in page.nodes if isinstance(n.get("name"), str))
    return ids


def _full_query(runs: CachedListing, filters_json: str) -> ListingQuery:
    """Every heavy field (the cache keeps whole rows; ``columns=`` selects afterwards)."""
    return dataclasses.replace(
        runs.query, filters_json=filters_json, order="+created_at", config_keys=None,
        summary_keys=None, with_config=True, with_summary=True, with_system=True,
    )


def _node_pages(
    runs: CachedListing, query: ListingQuery, per_page: int, limit: int | None, on_count: Any
) -> Iterator[list[dict[str, Any]]]:
    """Whole rows through the snapshot listing (an ID snapshot, then batches side by side)."""
    session = runs.session
    per_page = max(per_page, TABLE_BATCH) if limit is None else max(1, min(per_page, limit))
    return iter_snapshot_node_pages(
        session.execute, session.execute_raw, session.decode_answer, query, per_page,
        limiter=batch_limiter(runs.concurrency, session.transport.limiter), limit=limit, on_count=on_count,
    )


def _fetch_table(
    runs: CachedListing, filters_json: str, *, limit: int | None = None, per_page: int | None = None
) -> pa.Table:
    """Fetch whole rows matching ``filters_json`` (server order ``+created_at`` unless limited)."""
    query = _full_query(runs, filters_json)
    if limit is not None:
        query = dataclasses.replace(query, order=runs.plan.server_order)
    bar = make_progress(None, desc=f"runs {runs.project}", progress=runs.progress)

    def on_count(total: int) -> None:
        bar.total = total if limit is None else min(total, limit)

    assembler = TableAssembler(sep=runs.sep)
    seen: set[str] = set()
    pages = _node_pages(runs, query, per_page or runs.per_page, limit, on_count)
    try:
        for nodes in pages:
            records = [r for r in decode_nodes(runs.session, nodes, runs.entity, runs.project)
                       if r["id"] not in seen]
            seen.update(r["id"] for r in records)
            if limit is not None:
                records = records[: max(0, limit - assembler.num_rows)]
            assembler.add([flatten_run(r, sep=runs.sep) for r in records])
            bar.update(len(records))
            if limit is not None and assembler.num_rows >= limit:
                break
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
        bar.close()
    table = assembler.finish()
    return table if table.num_rows else empty_runs_table()
