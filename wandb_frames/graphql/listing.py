"""The listing query and the offset-paged listings: one page at a time, or pipelined.

:class:`ListingQuery` says what to list (project, server filter and order, heavy fields); every
listing strategy takes one. They yield lists of raw GraphQL ``Run`` nodes in server order and
know nothing about frames:

- :func:`iter_node_pages` walks ``RunsPage`` with the heavy fields (one request per page);
  :func:`prefetch` runs such a generator in a thread so the next page is on the wire
  while the caller decodes the current one;
- :func:`iter_pipelined_node_pages` requests page ``k + 1`` as soon as page ``k``'s first
  bytes name its cursor.

``Runs`` and the cache list through :mod:`wandb_frames.graphql.snapshot` instead (an ID
snapshot, then heavy batches by name side by side), which no deletion or re-ordering during a
listing can make skip a run; these offset listings stay for comparison (benchmarks, tests).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import pyarrow as pa

from wandb_frames.graphql import documents
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.pagination import Execute, iter_pages, read_page
from wandb_frames.graphql.peek import PeekedPageInfo, peek_page_info
from wandb_frames.graphql.answers import PendingAnswer, RawAnswer
from wandb_frames.graphql import arrow_page
from wandb_frames.graphql.arrow_page import ArrowNodes, page_data, page_nodes, parse_runs_page, runs_page_schema

__all__ = [
    "METADATA_FILE",
    "ListingQuery",
    "iter_node_pages",
    "iter_pipelined_node_pages",
    "prefetch",
]

logger = logging.getLogger("wandb_frames.resources.runs")
T = TypeVar("T")
METADATA_FILE = "wandb-metadata.json"


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What to list: the project, the server-side filter and order, the heavy fields."""

    entity: str
    project: str
    filters_json: str = "{}"
    order: str = "+created_at"
    config_keys: tuple[str, ...] | None = None
    summary_keys: tuple[str, ...] | None = None
    with_config: bool = True
    with_summary: bool = True
    with_system: bool = True
    with_metadata: bool = False

    @property
    def what(self) -> str:
        """The ``NotFoundError.what`` for this project."""
        return f"project {self.entity}/{self.project}"

    def variables(self, *, filters_json: str | None = None, with_count: bool) -> dict[str, Any]:
        """Variables of ``RunsPage`` (without ``first``/``after``)."""
        return {
            "entity": self.entity,
            "project": self.project,
            "filters": self.filters_json if filters_json is None else filters_json,
            "order": self.order,
            "configKeys": list(self.config_keys) if self.config_keys is not None else None,
            "summaryKeys": list(self.summary_keys) if self.summary_keys is not None else None,
            "withConfig": self.with_config,
            "withSummary": self.with_summary,
            "withSystem": self.with_system,
            "withCount": with_count,
            "withMetadata": self.with_metadata,
            "metadataNames": [METADATA_FILE],
        }


def _report_count(page_parent: dict[str, Any], on_count: Callable[[int], None] | None) -> None:
    count = page_parent.get("runCount")
    if on_count is not None and isinstance(count, int):
        on_count(count)


def iter_node_pages(
    execute: Execute,
    query: ListingQuery,
    per_page: int,
    *,
    on_count: Callable[[int], None] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    with_count: bool = True,
) -> Iterator[list[dict[str, Any]]]:
    """Yield heavy run nodes page by page (``runCount`` only on the first request).

    With ``limit``, no page is requested once ``limit`` distinct runs have been yielded (a
    prefetching consumer would otherwise fetch, and wait for, one page it then throws away).
    ``cursor`` starts after that cursor; ``with_count=False`` asks for no ``runCount`` at all.
    """
    variables = query.variables(with_count=with_count)
    names: set[Any] = set()
    for page in iter_pages(
        execute, documents.RUNS_PAGE, variables, page_size=per_page, what=query.what, cursor=cursor
    ):
        if variables["withCount"]:
            _report_count(page.parent, on_count)
            variables["withCount"] = False  # iter_pages copies variables on each request
        if limit is not None:
            names.update(node.get("name") for node in page.nodes)
        yield page.nodes
        if limit is not None and len(names) >= limit:
            return


RUNS_PATH = ("project", "runs")
PostPending = Callable[[Document, Mapping[str, Any]], PendingAnswer]
"""Sends a query and returns once the answer's first bytes arrived (``Api.execute_pending``)."""
DecodeAnswer = Callable[[RawAnswer], dict[str, Any]]
"""Parses an answer into ``data``, raising on GraphQL errors (``Api.decode_answer``)."""


@dataclass(frozen=True, slots=True)
class _Requested:
    """One answer of the pipelined listing, with the cursor it was asked ``after``."""

    answer: PendingAnswer
    body: Future[RawAnswer | pa.StructArray]
    after: str | None
    peeked: PeekedPageInfo | None

    def drop(self) -> None:
        """Forget an answer that will not be used (frees its connection unless being read)."""
        if self.body.cancel():
            self.answer.close()


def _read_answer(answer: PendingAnswer, schema: pa.Schema | None) -> RawAnswer | pa.StructArray:
    """Read an answer's body; with ``schema``, parse a large one with Arrow too (off the GIL).

    Returns the answer's ``data`` as parsed by Arrow, or the raw answer for orjson.
    """
    raw = answer.read()
    if schema is not None and len(raw.content) >= arrow_page.MIN_BYTES:
        data = parse_runs_page(raw.content, schema)
        if data is not None:
            return data
    return raw


def _request_pages(
    post: PostPending, reader: ThreadPoolExecutor, variables: dict[str, Any], per_page: int, arrow: bool
) -> Iterator[_Requested]:
    """Request ``RunsPage`` answers back to back, each ``after`` the cursor peeked from the last.

    Runs in the prefetch thread and waits only for each answer's first bytes: the body of
    page ``k`` is read (and, with ``arrow``, parsed: see :mod:`~wandb_frames.graphql.arrow_page`)
    by ``reader`` while page ``k + 1`` is requested on another connection. It stops after an
    answer whose cursor cannot be peeked, that has no next page, or that repeats a cursor:
    the consumer, which checks every answer, decides what follows.
    """
    cursor: str | None = None
    peeked_cursors: set[str] = set()
    while True:
        sent = {**variables, "first": per_page, "after": cursor}
        answer = post(documents.RUNS_PAGE, sent)
        variables = {**variables, "withCount": False}
        peeked = peek_page_info(answer.head, ("data", *RUNS_PATH))
        schema = runs_page_schema(sent) if arrow else None
        yield _Requested(answer, reader.submit(_read_answer, answer, schema), cursor, peeked)
        if peeked is None or not peeked.has_next_page or not peeked.end_cursor:
            return
        if peeked.end_cursor in peeked_cursors:
            return
        peeked_cursors.add(peeked.end_cursor)
        cursor = peeked.end_cursor


def iter_pipelined_node_pages(
    execute: Execute,
    post: PostPending,
    decode: DecodeAnswer,
    query: ListingQuery,
    per_page: int,
    *,
    on_count: Callable[[int], None] | None = None,
    arrow: bool = False,
) -> Iterator[list[dict[str, Any]]]:
    """Yield heavy run nodes page by page, requesting page ``k + 1`` before page ``k`` is even read.

    The same pages as ``prefetch(iter_node_pages(...))`` (no ``limit``): a background thread
    sends each request as soon as the previous answer's first bytes name the next cursor
    (``RunsPage`` selects ``pageInfo`` before ``edges``; see :mod:`wandb_frames.graphql.peek`),
    and hands the answer over unread; this generator reads and parses it in the caller's
    thread. So the server computes the next page while this one is transferred, parsed and
    decoded, instead of after.

    Every answer is checked once parsed: if its cursor (the last edge's, as
    :func:`iter_pages` uses) is not the one the next request was sent ``after``, or the prefix
    could not be read, the speculative request is dropped and the listing continues one
    page at a time from the right cursor. Errors are raised at the page they belong to.

    With ``arrow``, the reading thread also parses each large answer with Arrow (releasing
    the GIL; see :mod:`~wandb_frames.graphql.arrow_page`), and such a page comes as an
    :class:`~wandb_frames.graphql.arrow_page.ArrowNodes`: light nodes (``name`` and the JSON
    strings, as ``memoryview`` slices of Arrow's buffer) with the Arrow array of every
    field. For a consumer that builds a table and drops the page, not for one that keeps
    nodes (the buffer would live as long as any).
    """
    variables = query.variables(with_count=True)
    op = documents.RUNS_PAGE.operation
    seen: set[str] = set()
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-frames-read")
    stream = prefetch(
        lambda: _request_pages(post, reader, variables, per_page, arrow),
        depth=2,
        discard=_Requested.drop,
    )
    expected: str | None = None
    first = True
    try:
        for requested in stream:
            if requested.after != expected:
                requested.drop()
                break  # the request went out after a cursor we did not confirm
            body = requested.body.result()
            if isinstance(body, RawAnswer):
                answer, arrow_nodes = decode(body), None
            else:
                answer, arrow_nodes = page_data(body, light=True), page_nodes(body)
            del body
            peeked = requested.peeked
            del requested  # its body: freed once parsed
            page = read_page(answer, RUNS_PATH, operation=op, what=query.what, seen=seen)
            del answer
            nodes = page.nodes if arrow_nodes is None else ArrowNodes(page.nodes, arrow_nodes)
            del arrow_nodes
            if first:
                _report_count(page.parent, on_count)
                first = False
            more, expected = page.has_next_page, page.end_cursor
            handed = [nodes]
            del page, nodes
            yield handed.pop()  # no page stays referenced by this frame across the yield
            if not more:
                return
            if peeked is None or peeked.end_cursor != expected or not peeked.has_next_page:
                break
    finally:
        stream.close()
        reader.shutdown(wait=False, cancel_futures=True)
    logger.debug("RunsPage: cursor not confirmed by the answer; continuing page by page")
    yield from iter_node_pages(
        execute, query, per_page, on_count=on_count, cursor=expected, with_count=first
    )


def prefetch(
    source: Callable[[], Iterator[T]],
    depth: int = 1,
    discard: Callable[[T], None] | None = None,
) -> Generator[T, None, None]:
    """Run ``source()`` in a background thread, at most ``depth`` items ahead of the consumer.

    The thread asks ``source`` for item ``k + depth`` only once the consumer has taken item
    ``k``: with ``depth=1`` the next page is fetched while the current one is decoded, and
    a consumer that stops early (a ``limit``) leaves at most one page in flight.
    Exceptions raised by the source are re-raised in the consumer; closing the returned
    generator stops the thread after its current item, and ``discard`` is called on every
    item made but not taken (e.g. to free a connection).
    """
    items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def wait_for_room() -> bool:
        while not stop.is_set():
            if room.acquire(timeout=0.05):
                return True
        return False

    def work() -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = source()
            while wait_for_room():
                try:
                    item = next(iterator)
                except StopIteration:
                    items.put(("done", None))
                    return
                items.put(("item", item))
        except BaseException as exc:  # noqa: BLE001  # forwarded to and re-raised by the consumer
            items.put(("error", exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a stopped consumer: let the source's generators clean up here

    thread = threading.Thread(target=work, name="wandb-frames-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "item":
                room.release()
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join(timeout=60)
        if discard is not None:  # items made but never taken (a consumer that stopped early)
            while True:
                try:
                    kind, value = items.get_nowait()
                except queue.Empty:
                    break
                if kind == "item":
                    discard(value)
