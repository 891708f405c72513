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
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames import _fetch
from wandb_frames import filters as wff
from wandb_frames._cache_merge import merge_tables, sort_runs, upsert_runs
from wandb_frames.cache import NON_FINAL_STATES, CacheEntry, CacheKey, RunsCache
from wandb_frames.errors import CacheError, NotFoundError, UnsupportedFilterError
from wandb_frames.graphql import documents
from wandb_frames.graphql.pagination import iter_pages
from wandb_frames.progress import make_progress
from wandb_frames.run import decode_nodes
from wandb_frames.tabular import TableAssembler, empty_runs_table, flatten_run

if TYPE_CHECKING:
    from wandb_frames._fetch import ListingQuery
    from wandb_frames.runs import Runs

__all__ = ["cached_table"]

logger = logging.getLogger("wandb_frames.cache")
ID_BATCH = 500
DELTA_PAGE = 1000
ID_LIST_PAGE = 5000


def cached_table(runs: Runs) -> pa.Table:
    """The table of ``runs`` (filtered, ordered, limited, projected) through the cache.

    Raises:
        CacheError: ``offline`` and the cache cannot answer, or the cache is unwritable.
        ApiError: A request failed.
    """
    cache = runs._api.cache if runs._api.cache is not None else RunsCache()
    key = CacheKey.for_runs(runs)
    plan = runs._plan
    with cache.lock:
        entry = cache.load(key)
        if runs.offline:
            return _offline(runs, cache, key, entry)
        if entry is not None and entry.complete and not _expired(entry, cache):
            entry = _refresh(runs, cache, key, entry)
            answer = _answer_whole(runs, entry.table)
            if answer is not None:
                return answer
        elif (plan.server_filters == "{}" and runs.limit is None) or (entry is not None and entry.complete):
            table = sort_runs(_fetch_table(runs, "{}"))
            now = datetime.now(UTC).isoformat()
            entry = CacheEntry(table, complete=True, watermark=_newest(table), filters_seen=("{}",),
                               full_at=now)
            cache.store(key, entry)
            answer = _answer_whole(runs, table)
            if answer is not None:
                return answer
        return _fetch_and_merge(runs, cache, key, entry)


def _fetch_and_merge(runs: Runs, cache: RunsCache, key: CacheKey, entry: CacheEntry | None) -> pa.Table:
    """Fetch what the call asks for from the server and merge the rows into the entry."""
    plan = runs._plan
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
    return runs.projection.select(table)


def _offline(runs: Runs, cache: RunsCache, key: CacheKey, entry: CacheEntry | None) -> pa.Table:
    where = f"{key.entity}/{key.project} on {key.server} in {cache.directory}"
    if entry is None:
        raise CacheError(
            f"offline: nothing is cached for {where}; fetch it once online with "
            "Api(cache=...) (same server, project, sep and metadata columns)"
        )
    if not entry.complete and runs._plan.server_filters not in entry.filters_seen:
        raise CacheError(
            f"offline: the cache for {where} holds only the runs of other filtered fetches and "
            "cannot answer this filter; fetch the project once online without a filter"
        )
    answer = _answer_whole(runs, entry.table)
    if answer is None:
        raise CacheError(f"offline: this filter can only be evaluated by the server ({where})")
    return answer


def _answer_whole(runs: Runs, table: pa.Table) -> pa.Table | None:
    """Apply the whole filter, the order and the limit locally (None: not evaluable here)."""
    plan = runs._plan
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
    return runs.projection.select(table)


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


def _refresh(runs: Runs, cache: RunsCache, key: CacheKey, entry: CacheEntry) -> CacheEntry:
    """Fetch runs changed since the watermark; detect new and deleted runs; merge; store.

    The server's run count is asked in parallel; only when it disagrees with the merged
    rows (or with ``RunsCache(list_ids=True)``) are all run IDs listed.
    """
    states = {"state": {"$in": list(NON_FINAL_STATES)}}
    delta: dict[str, Any] = states
    if entry.watermark is not None:  # floored to the minute: a stable text between refreshes
        since = (entry.watermark - cache.overlap).replace(second=0, microsecond=0)
        delta = {"$or": [{"heartbeat_at": {"$gte": since}}, states]}
    delta_json = wff.to_server_json(wff.parse_filter(delta))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-cache") as pool:
        ids_future = pool.submit(_list_ids, runs) if cache.list_ids else None
        count_future = None if cache.list_ids else pool.submit(_count, runs)
        fresh = _fetch_table(runs, delta_json, per_page=max(runs.per_page, DELTA_PAGE))
        listed = ids_future.result() if ids_future is not None else None
        count = count_future.result() if count_future is not None else None
    cached_ids = set(entry.table.column("id").to_pylist())
    fresh_ids = set(fresh.column("id").to_pylist()) if fresh.num_rows else set()
    ended = [i for i in _unfinished_ids(entry.table) if i not in fresh_ids]
    if ended:  # unfinished when cached, now neither unfinished nor newer: ended quietly (or deleted)
        batch = orjson.dumps({"name": {"$in": ended}}).decode()
        fresh = merge_tables(fresh, _fetch_table(runs, batch), sep=runs.sep)
        fresh_ids = set(fresh.column("id").to_pylist()) if fresh.num_rows else set()
    if count is not None and count != len(cached_ids | fresh_ids):
        listed = _list_ids(runs)
    missing: list[str] = []
    deleted: list[str] = []
    if listed is not None:
        missing = [i for i in listed if i not in cached_ids and i not in fresh_ids]
        for start in range(0, len(missing), ID_BATCH):  # new runs with an old heartbeat
            batch = orjson.dumps({"name": {"$in": missing[start : start + ID_BATCH]}}).decode()
            fresh = merge_tables(fresh, _fetch_table(runs, batch), sep=runs.sep)
        fresh_ids.update(missing)
        deleted = sorted(cached_ids - set(listed) - fresh_ids)
    stats = {"changed": len(fresh_ids) - len(missing), "added": len(missing), "deleted": len(deleted),
             "listed_ids": int(listed is not None)}
    logger.debug("%s: refreshed from cache: %s", runs.path, stats)
    if fresh.num_rows == 0 and not deleted:
        entry.refreshed = stats
        return entry
    merged = upsert_runs(entry.table, fresh, drop_ids=deleted, sep=runs.sep)
    updated = dataclasses.replace(entry, table=merged, watermark=_newest(merged) or entry.watermark,
                                  refreshed=stats)
    cache.store(key, updated, changed=fresh, deleted=deleted)
    return updated


def _unfinished_ids(table: pa.Table) -> list[str]:
    if "state" not in table.column_names:
        return []
    keep = pc.is_in(table.column("state"), value_set=pa.array(NON_FINAL_STATES, pa.string()))
    return [str(i) for i in table.filter(keep).column("id").to_pylist()]


def _count(runs: Runs) -> int:
    data = runs._api.execute(documents.RUN_COUNT, {"entity": runs.entity, "project": runs.project,
                                                   "filters": "{}"})
    project = data.get("project")
    if not isinstance(project, dict):
        raise NotFoundError(f"project {runs.path} not found", operation=documents.RUN_COUNT.operation,
                            what=f"project {runs.path}")
    return int(project["runCount"])


def _list_ids(runs: Runs) -> list[str]:
    variables = {"entity": runs.entity, "project": runs.project, "filters": "{}",
                 "order": "+created_at", "withCount": False}
    ids: list[str] = []
    for page in iter_pages(runs._api.execute, documents.RUN_IDS_PAGE, variables,
                           page_size=ID_LIST_PAGE, what=f"project {runs.path}"):
        ids.extend(n["name"] for n in page.nodes if isinstance(n.get("name"), str))
    return ids


def _full_query(runs: Runs, filters_json: str) -> ListingQuery:
    """Every heavy field (the cache keeps whole rows; ``columns=`` selects afterwards)."""
    return dataclasses.replace(
        runs._query(), filters_json=filters_json, order="+created_at", config_keys=None,
        summary_keys=None, with_config=True, with_summary=True, with_system=True,
    )


def _node_pages(
    runs: Runs, query: ListingQuery, per_page: int, limit: int | None, on_count: Any
) -> Iterator[list[dict[str, Any]]]:
    execute = runs._api.execute
    per_page = per_page if limit is None else max(1, min(per_page, limit))
    workers = runs.concurrency or 0
    if workers > 1:
        return _fetch.iter_batched_node_pages(execute, query, per_page, workers=workers, limit=limit,
                                              on_count=on_count)
    return _fetch.prefetch(lambda: _fetch.iter_node_pages(execute, query, per_page, on_count=on_count))


def _fetch_table(
    runs: Runs, filters_json: str, *, limit: int | None = None, per_page: int | None = None
) -> pa.Table:
    """Fetch whole rows matching ``filters_json`` (server order ``+created_at`` unless limited)."""
    query = _full_query(runs, filters_json)
    if limit is not None:
        query = dataclasses.replace(query, order=runs._plan.server_order)
    bar = make_progress(None, desc=f"runs {runs.project}", progress=runs.progress)

    def on_count(total: int) -> None:
        bar.total = total if limit is None else min(total, limit)

    assembler = TableAssembler(sep=runs.sep)
    seen: set[str] = set()
    pages = _node_pages(runs, query, per_page or runs.per_page, limit, on_count)
    try:
        for nodes in pages:
            records = [r for r in decode_nodes(runs._api, nodes, runs.entity, runs.project)
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
