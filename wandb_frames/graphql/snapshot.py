"""The listing a network deserves: a light ID snapshot, then heavy batches fetched side by side.

W&B pages runs with offset cursors (``arrayconnection:N``), so a run deleted, or moved in the
sort order, while a listing pages through them shifts every later page: a run that was never
touched can be skipped, another one seen twice. And each page costs a round trip, so the
official 50-run pages cost 100 round trips for 5,000 runs, one after another.

:func:`iter_snapshot_node_pages` does two things instead:

1. **ID snapshot.** ``RunIdsPage`` lists only the runs' names (and ``createdAt``), in the
   listing's filter and order, in pages of :data:`ID_PAGE_SIZE`: one request for most
   projects, and one server-side query is one consistent snapshot.
2. **Heavy batches.** The heavy fields of each batch of names are fetched with
   ``{"name": {"$in": [...]}}`` — by name, so nothing that happens to other runs can shift
   them — with as many requests in flight as the transport's
   :class:`~wandb_frames.graphql.concurrency.AdaptiveLimit` allows (grown on healthy answers,
   halved on 429/5xx). Batches are yielded in listing order, each in the snapshot's order
   (:mod:`~wandb_frames.graphql.batch_stream`: a batch the server cannot send is split, and
   later batches are sized by what a run weighs).

The first page of heavy fields is asked for beside the snapshot, in the listing's own order,
and handed on as soon as it arrives, so it is decoded while the snapshot is still being
taken; when the snapshot is in, its thread asks for the batches of the runs that page lacks
(before the page is decoded). A run the first page holds is never fetched again; in creation
order, a run the snapshot puts among the first page's runs that the page lacked was created
after it was read, and is left out (it did not exist when the listing began; listed, it
would be out of order); in any other order it may have moved there, and is fetched after it.

A run deleted between the snapshot and its batch is simply not returned (it no longer
exists); a run created after the snapshot is not listed (it did not exist). A snapshot of one
page is one server-side query. Longer snapshots page by creation time, anchored on the last
``createdAt`` seen instead of an offset, when the listing is ordered by creation time (the
default, ``+created_at``), so nothing can shift them. In any other order the offset pages
could shift (a run's ``heartbeatAt`` or summary moves it): the runs are then listed again by
creation time, anchored, and those the first snapshot missed are fetched too, last.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from wandb_frames.errors import ApiError
from wandb_frames.graphql import documents
from wandb_frames.graphql.answers import RawAnswer
from wandb_frames.graphql.arrow_page import runs_page_schema
from wandb_frames.graphql.batch_stream import (
    SPLIT_ATTEMPTS,
    BatchStream,
    DecodeAnswer,
    PostRaw,
    fetch_batch,
    fetch_batches,
    read_nodes,
    too_large,
)
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.graphql.listing import RUNS_PATH, ListingQuery
from wandb_frames.graphql.pagination import Execute, iter_pages, read_page

__all__ = [
    "ID_PAGE_SIZE",
    "TABLE_BATCH",
    "IdSnapshot",
    "batch_limiter",
    "iter_snapshot_node_pages",
    "list_run_ids",
    "listed_run_ids",
]

logger = logging.getLogger("wandb_frames.listing")

ID_PAGE_SIZE = 10_000
"""Names per ``RunIdsPage`` request (a few hundred KB of JSON)."""
TABLE_BATCH = 500
"""Runs per heavy request, at least, when a whole table is fetched (``to_arrow``/``to_pandas``/
``to_parquet``, the cache's fetches): ``per_page`` is the page size of iteration."""


def batch_limiter(concurrency: int | None, adaptive: AdaptiveLimit) -> AdaptiveLimit:
    """The limit of heavy requests in flight: ``adaptive`` (the transport's) for ``None``, else
    ``concurrency`` (0 and 1: one stream of batches, i.e. the next one asked for while the
    current one is decoded: two in flight)."""
    if concurrency is None:
        return adaptive
    fixed = max(2, concurrency)
    return AdaptiveLimit(fixed, minimum=fixed, maximum=fixed)



@dataclass
class IdSnapshot:
    """The names of the runs a listing holds, in its order, and what the listing saw of it."""

    names: list[str] = field(default_factory=list)
    count: int | None = None
    """``runCount`` as the first page reported it."""
    pages: int = 0
    created: dict[str, str] = field(default_factory=dict)
    """``createdAt`` of each listed run (ISO text, which sorts as time)."""

    @property
    def newest(self) -> str | None:
        """The latest ``createdAt`` listed: a run created after it did not exist before."""
        return max(self.created.values(), default=None)


def _creation_order(order: str) -> str | None:
    """``"+"``/``"-"`` when ``order`` sorts by creation time, else None."""
    sign, key = (order[0], order[1:]) if order[:1] in "+-" else ("+", order)
    return sign if key in ("created_at", "createdAt") else None


def _add(snapshot: IdSnapshot, seen: set[str], nodes: Sequence[dict[str, Any]]) -> int:
    added = 0
    for node in nodes:
        name = node.get("name")
        if isinstance(name, str) and name not in seen:
            seen.add(name)
            snapshot.names.append(name)
            added += 1
            created = node.get("createdAt")
            if isinstance(created, str):
                snapshot.created[name] = created
    return added


def _offset_run_ids(execute: Execute, query: ListingQuery, limit: int | None, size: int) -> IdSnapshot:
    """Names in the listing's own order, paged with the server's offset cursors."""
    variables = {"entity": query.entity, "project": query.project, "filters": query.filters_json,
                 "order": query.order, "withCount": True}
    snapshot = IdSnapshot()
    seen: set[str] = set()
    for page in iter_pages(execute, documents.RUN_IDS_PAGE, variables, page_size=size, what=query.what):
        snapshot.pages += 1
        if variables["withCount"]:
            count = page.parent.get("runCount")
            snapshot.count = count if isinstance(count, int) else None
            variables["withCount"] = False
        _add(snapshot, seen, page.nodes)
        if limit is not None and len(snapshot.names) >= limit:
            break
    return snapshot


def _anchored_run_ids(
    execute: Execute, query: ListingQuery, sign: str, limit: int | None, size: int
) -> IdSnapshot:
    """Names by creation time, each page anchored on the last ``createdAt`` seen, not on an offset.

    A run's ``createdAt`` never changes, so no deletion or move elsewhere can shift a page: every
    run that exists from the first page to the last is listed. A run created meanwhile is listed
    if it sorts after the anchor. Runs created at the same instant as a page's last one are
    asked for again (``$gte``/``$lte``) and de-duplicated; a full page of one instant continues
    from its cursor.
    """
    user = (query.filters_json or "{}").strip()  # W&B's JSON may hold bare NaN/Infinity: not parsed here
    bound = "$gte" if sign == "+" else "$lte"
    snapshot = IdSnapshot()
    seen: set[str] = set()
    anchor: str | None = None
    after: str | None = None
    op = documents.RUN_IDS_PAGE.operation
    while True:
        filters = user
        if anchor is not None:
            anchored = orjson.dumps({"createdAt": {bound: anchor}}).decode()
            filters = anchored if user == "{}" else f'{{"$and":[{user},{anchored}]}}'
        variables = {"entity": query.entity, "project": query.project, "filters": filters, "order": query.order,
                     "withCount": snapshot.pages == 0, "first": size, "after": after}
        page = read_page(execute(documents.RUN_IDS_PAGE, variables), ("project", "runs"),
                         operation=op, what=query.what)
        snapshot.pages += 1
        if variables["withCount"]:
            count = page.parent.get("runCount")
            snapshot.count = count if isinstance(count, int) else None
        added = _add(snapshot, seen, page.nodes)
        if not page.has_next_page or (limit is not None and len(snapshot.names) >= limit):
            return snapshot
        last = page.nodes[-1].get("createdAt") if page.nodes else None
        if added == 0 or not isinstance(last, str) or last == anchor:
            after = page.end_cursor  # a page of one instant: go on from its cursor
        else:
            anchor, after = last, None


def list_run_ids(
    execute: Execute, query: ListingQuery, *, limit: int | None = None, page_size: int | None = None,
    anchored: bool | None = None,
) -> IdSnapshot:
    """List the names of the runs ``query`` selects, de-duplicated, in its order.

    Args:
        execute: Runs one operation.
        query: The listing (filter and order).
        limit: Stop once that many distinct names were listed.
        page_size: Names per request (default :data:`ID_PAGE_SIZE`).
        anchored: Page by creation time, anchored (see :func:`_anchored_run_ids`); default: when
            the listing's order is by creation time. Not anchored: the order's offset pages.
    """
    size = page_size or ID_PAGE_SIZE
    if limit is not None:
        size = max(1, min(limit, size))
    sign = _creation_order(query.order)
    if anchored is None:
        anchored = sign is not None
    if anchored:
        snapshot = _anchored_run_ids(execute, query, sign or "+", limit, size)
    else:
        snapshot = _offset_run_ids(execute, query, limit, size)
    if limit is not None:
        del snapshot.names[limit:]
    return snapshot


def listed_run_ids(execute: Execute, query: ListingQuery, *, limit: int | None = None) -> list[str]:
    """The names of the runs ``query`` lists, in its order, as :func:`iter_snapshot_node_pages`
    would yield them (a shifted multi-page snapshot completed by creation time, last): for
    callers that need the runs' names only (e.g. their histories), not their fields."""
    snapshot = list_run_ids(execute, query, limit=limit)
    if snapshot.pages <= 1 or limit is not None or _creation_order(query.order) is not None:
        return snapshot.names
    complete = list_run_ids(execute, dataclasses.replace(query, order="+created_at"))
    known = set(snapshot.names)
    return snapshot.names + [name for name in complete.names if name not in known]


def _first_page_ahead(
    post: PostRaw, query: ListingQuery, batch_size: int, limiter: AdaptiveLimit, arrow: bool
) -> Future[tuple[RawAnswer | pa.StructArray, int]]:
    """Ask for the listing's first page of heavy fields while the ID snapshot is being taken."""
    variables = {**query.variables(with_count=False), "first": batch_size, "after": None}
    schema = runs_page_schema(variables) if arrow else None
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-first")
    try:  # few tries: if it fails, its runs are asked for by name, in batches that may be split
        return starter.submit(fetch_batch, post, limiter, variables, schema, attempts=SPLIT_ATTEMPTS)
    finally:
        starter.shutdown(wait=False)


def _rest_of_snapshot(names: Sequence[str], first: Sequence[str], order: str) -> list[str]:
    """The snapshot's names a first page read before it did not hold, in the snapshot's order.

    In creation order, a name the snapshot puts among the first page's runs but that page did
    not hold was created after it was read (creation times never change): it did not exist when
    the listing began, and is left out rather than listed out of order. In any other order it
    may be a run that moved there meanwhile; it is kept (after the first page).
    """
    held = set(first)
    if _creation_order(order) is not None:
        position = {name: i for i, name in enumerate(names)}
        cutoff = max((position[name] for name in first if name in position), default=-1)
        return [name for i, name in enumerate(names) if name not in held and i > cutoff]
    return [name for name in names if name not in held]


@dataclass
class _Start:
    """What the snapshot's thread hands back: the snapshot, and the stream of the rest."""

    snapshot: IdSnapshot
    stream: BatchStream | None


def _one_page(
    post: PostRaw, decode: DecodeAnswer, query: ListingQuery, size: int, limiter: AdaptiveLimit,
    on_count: Callable[[int], None] | None,
) -> list[dict[str, Any]] | None:
    """The listing's first ``size`` runs in one request; None if the server could not send them."""
    variables = {**query.variables(with_count=on_count is not None), "first": size, "after": None}
    try:
        body, _ = fetch_batch(post, limiter, variables, None, attempts=SPLIT_ATTEMPTS)
    except ApiError as exc:
        if not too_large(exc):
            raise
        return None
    page = read_page(decode(body), RUNS_PATH, operation=documents.RUNS_PAGE.operation, what=query.what)
    count = page.parent.get("runCount") if isinstance(page.parent, dict) else None
    if on_count is not None and isinstance(count, int):
        on_count(count)
    return page.nodes


@dataclass
class _Wanted:
    """Whether the listing's caller still reads (cleared when it stops, under ``lock``)."""

    still: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)


def _snapshot_then_batches(
    execute: Execute, post: PostRaw, decode: DecodeAnswer, query: ListingQuery, batch_size: int,
    limiter: AdaptiveLimit, limit: int | None, arrow: bool, id_page_size: int | None,
    first_page: Future[tuple[list[str], int]], wanted: _Wanted,
) -> _Start:
    """Take the ID snapshot, then start fetching what the first page (read meanwhile) lacks.

    ``first_page`` gives the first page's run names and what one of its runs weighed (bytes of
    the answer per run; 0 when unknown), which sizes the batches from the first one on. No
    batch is asked for once the caller has stopped reading (``wanted``).
    """
    snapshot = list_run_ids(execute, query, limit=limit, page_size=id_page_size)
    first, run_bytes = first_page.result()
    rest = _rest_of_snapshot(snapshot.names, first, query.order)
    if limit is not None:
        rest = rest[: max(0, limit - len(first))]
    with wanted.lock:
        if not (rest and wanted.still):
            return _Start(snapshot, None)
        return _Start(snapshot, BatchStream(post, decode, query, rest, batch_size, limiter, arrow,
                                            run_bytes=run_bytes).start())


def _stop_when_started(job: Future[_Start]) -> None:
    """Close the stream the snapshot's thread starts, whenever it does (the caller left early)."""

    def close(done: Future[_Start]) -> None:
        if not done.cancelled() and done.exception() is None and (stream := done.result().stream) is not None:
            stream.close()

    job.add_done_callback(close)


def iter_snapshot_node_pages(
    execute: Execute,
    post: PostRaw,
    decode: DecodeAnswer,
    query: ListingQuery,
    batch_size: int,
    *,
    limiter: AdaptiveLimit,
    limit: int | None = None,
    on_count: Callable[[int], None] | None = None,
    arrow: bool = False,
    id_page_size: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield heavy run nodes in batches of ``batch_size``: an ID snapshot, then batches in parallel.

    Args:
        execute: Runs one operation (the ID snapshot).
        post: Sends one query and returns its whole answer, unparsed (the heavy batches).
        decode: Parses an answer into ``data``; GraphQL errors raise here, at their batch.
        query: The listing: project, server filter and order, heavy fields.
        batch_size: Runs per heavy request.
        limiter: How many heavy requests may be in flight (shared by the client's fetches).
        limit: At most this many runs (the first ones in the listing's order).
        on_count: Called once with ``runCount``.
        arrow: Parse large answers with Arrow in the fetching threads (for table consumers
            that drop each page; see :mod:`~wandb_frames.graphql.arrow_page`).
        id_page_size: Names per ID request (default :data:`ID_PAGE_SIZE`).

    """
    if limit is not None and limit <= batch_size:
        # The first `limit` runs in one page: one server-side query (consistent), one request,
        # nothing left running once it is read. Only if the server cannot send that page are
        # the runs listed first and fetched in batches by name (which split).
        page = _one_page(post, decode, query, limit, limiter, on_count)
        if page is not None:
            if page:
                yield page
            return
        snapshot = list_run_ids(execute, query, limit=limit, page_size=id_page_size)
        if on_count is not None and snapshot.count is not None:
            on_count(snapshot.count)
        yield from fetch_batches(post, decode, query, snapshot.names, batch_size, limiter, arrow)
        return
    # The first page is asked for beside the ID snapshot and handed on as soon as it arrives:
    # its runs are decoded while the snapshot is taken; the snapshot's thread then asks for
    # the batches of the runs the first page lacks, before the first page is decoded.
    ahead = _first_page_ahead(post, query, batch_size, limiter, arrow)
    first_names: Future[tuple[list[str], int]] = Future()
    wanted = _Wanted()
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-snapshot")
    job = starter.submit(_snapshot_then_batches, execute, post, decode, query, batch_size, limiter, limit,
                         arrow, id_page_size, first_names, wanted)
    starter.shutdown(wait=False)
    stream: BatchStream | None = None
    try:
        run_bytes = 0
        try:
            body, size = ahead.result()
            first: list[dict[str, Any]] | None = read_nodes(body, decode, query)
            del body
            run_bytes = size // max(1, len(first or ()))
        except ApiError:
            first = None  # its runs are asked for by name, which raises if the failure persists
        del ahead
        first_names.set_result(([] if first is None else [node["name"] for node in first], run_bytes))
        if first:
            handed = [first]
            del first
            yield handed.pop()
        started = job.result()
        snapshot, stream = started.snapshot, started.stream
        if on_count is not None and snapshot.count is not None:
            on_count(snapshot.count)
        if stream is not None:
            yield from stream
    finally:
        with wanted.lock:  # from now on the snapshot's thread starts no batch
            wanted.still = False
        if not first_names.done():
            first_names.set_result(([], 0))
        if stream is not None:
            stream.close()
        else:
            _stop_when_started(job)  # a stream started but not taken (we stopped early) is closed
    if snapshot.pages <= 1 or limit is not None or _creation_order(query.order) is not None:
        return  # one page is one server-side query; creation-ordered pages were anchored
    # The order's offset pages may have shifted: list again by creation time, anchored.
    complete = list_run_ids(execute, dataclasses.replace(query, order="+created_at"), page_size=id_page_size)
    known = set(snapshot.names) | set(first_names.result()[0])
    missed = [name for name in complete.names if name not in known]
    if missed:
        logger.info("%s: the listing shifted while it was paged; fetching the %d run(s) it skipped",
                    query.what, len(missed))
        yield from fetch_batches(post, decode, query, missed, batch_size, limiter, arrow)
