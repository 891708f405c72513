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
   halved on 429/5xx). Batches are yielded in listing order, each in the snapshot's order.

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
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from wandb_frames.errors import ApiError
from wandb_frames.graphql import arrow_page, documents
from wandb_frames.graphql.answers import PendingAnswer, RawAnswer
from wandb_frames.graphql.arrow_page import ArrowNodes, page_data, page_nodes, parse_runs_page, runs_page_schema
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.graphql.documents import Document
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
AHEAD = 2
"""Heavy batches in flight while one is decoded, at first; twice as many each time the decoding
has to wait for an answer (up to the transport's limit). Two keep the server busy while a page
is decoded (one answer being computed, one on its way); a stream starts with one request
only, so that its first answer is not delayed by sharing the server with a second."""
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

PostPending = Callable[[Document, dict[str, Any]], PendingAnswer]
DecodeAnswer = Callable[[RawAnswer], dict[str, Any]]


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


@dataclass(frozen=True, slots=True)
class _Batch:
    names: Sequence[str]
    body: Future[RawAnswer | pa.StructArray]


def _fetch_batch(
    post: PostPending, limiter: AdaptiveLimit, variables: dict[str, Any], schema: pa.Schema | None
) -> RawAnswer | pa.StructArray:
    """Send one batch's request and read its answer, holding a slot of ``limiter`` meanwhile."""
    with limiter.slot():
        answer = post(documents.RUNS_PAGE, variables)
        raw = answer.read()
    if schema is not None and len(raw.content) >= arrow_page.MIN_BYTES:
        data = parse_runs_page(raw.content, schema)  # Arrow's reader releases the GIL
        if data is not None:
            return data
    return raw


def _in_order(nodes: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The nodes of ``names`` in that order (the server sorts a batch by the listing's order
    too; a run whose sort key changed meanwhile keeps its snapshot place)."""
    position = {name: i for i, name in enumerate(names)}
    rows = sorted((i for i, n in enumerate(nodes) if n.get("name") in position),
                  key=lambda i: position[nodes[i]["name"]])
    if rows == list(range(len(nodes))):
        return nodes
    if isinstance(nodes, ArrowNodes):
        return nodes.take(rows)
    return [nodes[i] for i in rows]


def _read_nodes(body: RawAnswer | pa.StructArray, decode: DecodeAnswer, query: ListingQuery) -> list[dict[str, Any]]:
    """The run nodes of one ``RunsPage`` answer (GraphQL errors raise here)."""
    if isinstance(body, RawAnswer):
        answer, arrow_nodes = decode(body), None
    else:
        answer, arrow_nodes = page_data(body, light=True), page_nodes(body)
    del body
    page = read_page(answer, RUNS_PATH, operation=documents.RUNS_PAGE.operation, what=query.what)
    del answer
    return page.nodes if arrow_nodes is None else ArrowNodes(page.nodes, arrow_nodes)


class _BatchStream:
    """The heavy fields of ``names`` in batches, in flight side by side, yielded in order.

    The first requests go out when the stream is made (:meth:`start`), so a stream made in
    the snapshot's thread is already fetching while the caller decodes the first page.
    """

    def __init__(
        self, post: PostPending, decode: DecodeAnswer, query: ListingQuery, names: Sequence[str],
        batch_size: int, limiter: AdaptiveLimit, arrow: bool,
    ) -> None:
        self._post, self._decode, self._query, self._limiter, self._arrow = post, decode, query, limiter, arrow
        self._chunks = deque(names[i : i + batch_size] for i in range(0, len(names), batch_size))
        self._pending: deque[_Batch] = deque()
        self._ahead = AHEAD  # batches requested ahead of the one being decoded
        self._read = 0
        self._pool = ThreadPoolExecutor(max_workers=limiter.maximum, thread_name_prefix="wandb-frames-batch")

    def start(self) -> _BatchStream:
        """Send the first request; return the stream."""
        self._fill(1)
        return self

    def _fill(self, most: int | None = None) -> None:
        # Ask for more batches ahead only while the decoding waits for answers: on a slow link
        # that hides the round trips; when the answers come faster than they are decoded
        # (loopback), more requests at once would only make the server answer each later.
        ahead = min(self._ahead, self._limiter.limit) if most is None else most
        while self._chunks and len(self._pending) < ahead:
            chunk = self._chunks.popleft()
            filters = orjson.dumps({"name": {"$in": list(chunk)}}).decode()
            variables = {**self._query.variables(filters_json=filters, with_count=False),
                         "first": len(chunk), "after": None}
            schema = runs_page_schema(variables) if self._arrow else None
            body = self._pool.submit(_fetch_batch, self._post, self._limiter, variables, schema)
            self._pending.append(_Batch(chunk, body))

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        try:
            while self._chunks or self._pending:
                self._fill()
                batch = self._pending.popleft()
                if not batch.body.done() and self._read:  # (the first batch was only just asked for)
                    self._ahead = min(2 * self._ahead, self._limiter.maximum)  # decoding waits for the network
                self._read += 1
                self._fill()  # the next requests go out before this batch is read and decoded
                nodes = _read_nodes(batch.body.result(), self._decode, self._query)
                if len(nodes) < len(batch.names):
                    logger.debug("%d of %d listed runs were deleted before their fetch",
                                 len(batch.names) - len(nodes), len(batch.names))
                handed = [_in_order(nodes, batch.names)]
                del nodes, batch
                yield handed.pop()  # no page stays referenced by this frame across the yield
        finally:
            self.close()

    def close(self) -> None:
        """Cancel what is not sent yet; wait for the requests in flight."""
        for batch in self._pending:
            batch.body.cancel()
        self._pending.clear()
        self._chunks.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _fetch_batches(
    post: PostPending,
    decode: DecodeAnswer,
    query: ListingQuery,
    names: Sequence[str],
    batch_size: int,
    limiter: AdaptiveLimit,
    arrow: bool,
) -> Iterator[list[dict[str, Any]]]:
    """Fetch the heavy fields of ``names`` in batches, in flight side by side, yielded in order."""
    if names:
        yield from _BatchStream(post, decode, query, names, batch_size, limiter, arrow).start()


def _first_page_ahead(
    post: PostPending, query: ListingQuery, batch_size: int, limiter: AdaptiveLimit, arrow: bool
) -> Future[RawAnswer | pa.StructArray]:
    """Ask for the listing's first page of heavy fields while the ID snapshot is being taken."""
    variables = {**query.variables(with_count=False), "first": batch_size, "after": None}
    schema = runs_page_schema(variables) if arrow else None
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-first")
    try:
        return starter.submit(_fetch_batch, post, limiter, variables, schema)
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
    stream: _BatchStream | None


def _snapshot_then_batches(
    execute: Execute, post: PostPending, decode: DecodeAnswer, query: ListingQuery, batch_size: int,
    limiter: AdaptiveLimit, limit: int | None, arrow: bool, id_page_size: int | None,
    first_names: Future[list[str]],
) -> _Start:
    """Take the ID snapshot, then start fetching what the first page (read meanwhile) lacks."""
    snapshot = list_run_ids(execute, query, limit=limit, page_size=id_page_size)
    first = first_names.result()
    rest = _rest_of_snapshot(snapshot.names, first, query.order)
    if limit is not None:
        rest = rest[: max(0, limit - len(first))]
    stream = _BatchStream(post, decode, query, rest, batch_size, limiter, arrow).start() if rest else None
    return _Start(snapshot, stream)


def _stop_when_started(job: Future[_Start]) -> None:
    """Close the stream the snapshot's thread starts, whenever it does (the caller left early)."""

    def close(done: Future[_Start]) -> None:
        if not done.cancelled() and done.exception() is None and (stream := done.result().stream) is not None:
            stream.close()

    job.add_done_callback(close)


def iter_snapshot_node_pages(
    execute: Execute,
    post: PostPending,
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
        post: Sends one query and returns once its first bytes arrived (the heavy batches).
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
    if limit is not None and limit < batch_size:
        snapshot = list_run_ids(execute, query, limit=limit, page_size=id_page_size)
        if on_count is not None and snapshot.count is not None:
            on_count(snapshot.count)
        yield from _fetch_batches(post, decode, query, snapshot.names, batch_size, limiter, arrow)
        return
    # The first page is asked for beside the ID snapshot and handed on as soon as it arrives:
    # its runs are decoded while the snapshot is taken; the snapshot's thread then asks for
    # the batches of the runs the first page lacks, before the first page is decoded.
    ahead = _first_page_ahead(post, query, batch_size, limiter, arrow)
    first_names: Future[list[str]] = Future()
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-snapshot")
    job = starter.submit(_snapshot_then_batches, execute, post, decode, query, batch_size, limiter, limit,
                         arrow, id_page_size, first_names)
    starter.shutdown(wait=False)
    stream: _BatchStream | None = None
    try:
        try:
            first: list[dict[str, Any]] | None = _read_nodes(ahead.result(), decode, query)
        except ApiError:
            first = None  # its runs are asked for by name, which raises if the failure persists
        del ahead
        first_names.set_result([] if first is None else [node["name"] for node in first])
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
        if not first_names.done():
            first_names.set_result([])
        if stream is not None:
            stream.close()
        else:
            _stop_when_started(job)  # a stream started but not taken (we stopped early) is closed
    if snapshot.pages <= 1 or limit is not None or _creation_order(query.order) is not None:
        return  # one page is one server-side query; creation-ordered pages were anchored
    # The order's offset pages may have shifted: list again by creation time, anchored.
    complete = list_run_ids(execute, dataclasses.replace(query, order="+created_at"), page_size=id_page_size)
    known = set(snapshot.names) | set(first_names.result())
    missed = [name for name in complete.names if name not in known]
    if missed:
        logger.info("%s: the listing shifted while it was paged; fetching the %d run(s) it skipped",
                    query.what, len(missed))
        yield from _fetch_batches(post, decode, query, missed, batch_size, limiter, arrow)
