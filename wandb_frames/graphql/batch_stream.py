"""Heavy fields of named runs, in batches in flight side by side, sized by what the server can send.

A listing's snapshot (:mod:`~wandb_frames.graphql.snapshot`) names the runs; this module fetches
their heavy fields (config, summary, system metrics) with ``{"name": {"$in": [...]}}``, several
batches in flight, and yields them in the snapshot's order.

How large a batch can be is the server's to decide, and runs differ by orders of magnitude:
a summary holding histograms can weigh megabytes (W&B users report sweeps whose summaries
add up to 1-2 GB), and a gateway gives up on an answer that takes too long to build or send
(HTTP 502/504, or a read timeout). So:

- **A batch the server fails to answer is split.** After a server error (HTTP 500/502/503/504)
  or a timeout, a batch of several runs is asked for again as two halves, and so on down to
  single runs; the batch's own request gives up after :data:`SPLIT_ATTEMPTS` tries rather than
  the retry policy's full count (the halves are the next try). A single run keeps the whole
  retry policy; only a single run the server cannot send fails the listing, with its error.
- **Later batches are sized from the answers.** Once an answer shows what a run weighs, the
  batches not yet asked for hold at most :data:`ANSWER_BYTES` worth of runs (never more than
  the listing's batch size).

Splitting changes nothing in what is listed: the runs are named, so a half holds exactly the
runs of its batch, in the same order.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import pyarrow as pa

from wandb_frames.errors import ApiError, HTTPStatusError, TransportError
from wandb_frames.graphql import arrow_page, documents
from wandb_frames.graphql.answers import RawAnswer
from wandb_frames.graphql.arrow_page import ArrowNodes, page_data, page_nodes, parse_runs_page, runs_page_schema
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.listing import RUNS_PATH, ListingQuery
from wandb_frames.graphql.pagination import read_page

__all__ = [
    "AHEAD",
    "ANSWER_BYTES",
    "SPLIT_ATTEMPTS",
    "BatchStream",
    "DecodeAnswer",
    "Piece",
    "PostRaw",
    "fetch_batch",
    "fetch_batches",
    "in_order",
    "read_nodes",
    "too_large",
]

logger = logging.getLogger("wandb_frames.listing")

AHEAD = 2
"""Heavy batches in flight while one is decoded, at first; twice as many each time the decoding
has to wait for an answer (up to the transport's limit). Two keep the server busy while a page
is decoded (one answer being computed, one on its way); a stream starts with one request
only, so that its first answer is not delayed by sharing the server with a second."""
ANSWER_BYTES = 64 << 20
"""The most a batch's answer should weigh: later batches hold at most this many bytes of runs,
judged from the answers so far (1,000 runs of ~220 keys weigh ~9 MB: unaffected)."""
SPLIT_ATTEMPTS = 2
"""Tries of a batch of several runs before it is split in halves (a single run: all of them)."""
_SPLIT_STATUS = frozenset({500, 502, 503, 504})


class PostRaw(Protocol):
    """Sends one query and returns its whole answer, unparsed (``Api.execute_raw``)."""

    def __call__(self, document: Document, variables: dict[str, Any], *, attempts: int | None = None) -> RawAnswer: ...


DecodeAnswer = Callable[[RawAnswer], dict[str, Any]]


def too_large(exc: ApiError) -> bool:
    """Whether a failure may be the answer's size: a server error or a timeout, not a refusal."""
    return isinstance(exc, TransportError) or (
        isinstance(exc, HTTPStatusError) and exc.status_code in _SPLIT_STATUS
    )


@dataclass(frozen=True, slots=True)
class Piece:
    """One answer: the runs asked for, the answer (parsed by Arrow, or raw) and its size in bytes."""

    names: Sequence[str]
    body: RawAnswer | pa.StructArray
    size: int


def fetch_batch(
    post: PostRaw, limiter: AdaptiveLimit, variables: dict[str, Any], schema: pa.Schema | None,
    *, attempts: int | None = None,
) -> tuple[RawAnswer | pa.StructArray, int]:
    """Send one ``RunsPage`` request and read its answer, holding a slot of ``limiter`` meanwhile.

    Returns:
        The answer (parsed by Arrow in this thread when large, see
        :mod:`~wandb_frames.graphql.arrow_page`, else raw) and its size in bytes.
    """
    with limiter.slot():  # the whole body is read inside the retries (a broken body is asked again)
        raw = post(documents.RUNS_PAGE, variables, attempts=attempts)
    size = len(raw.content)
    if schema is not None and size >= arrow_page.MIN_BYTES:
        data = parse_runs_page(raw.content, schema)  # Arrow's reader releases the GIL
        if data is not None:
            return data, size
    return raw, size


def _batch_variables(query: ListingQuery, names: Sequence[str]) -> dict[str, Any]:
    filters = orjson.dumps({"name": {"$in": list(names)}}).decode()
    return {**query.variables(filters_json=filters, with_count=False), "first": len(names), "after": None}


def _fetch_pieces(
    post: PostRaw, limiter: AdaptiveLimit, query: ListingQuery, names: Sequence[str], schema: pa.Schema | None
) -> list[Piece]:
    """The heavy fields of ``names``: one answer, or the answers of its halves if the server
    could not send it (see the module docstring)."""
    several = len(names) > 1
    try:
        body, size = fetch_batch(post, limiter, _batch_variables(query, names), schema,
                                 attempts=SPLIT_ATTEMPTS if several else None)
    except ApiError as exc:
        if not several and too_large(exc):
            exc.add_note(f"the server could not send run {names[0]!r} of {query.what} on its own")
        if not several or not too_large(exc):
            raise
        half = len(names) // 2
        logger.info("%s: no answer for a batch of %d runs (%s); asking for two batches of %d and %d",
                    query.what, len(names), exc, half, len(names) - half)
        return (_fetch_pieces(post, limiter, query, names[:half], schema)
                + _fetch_pieces(post, limiter, query, names[half:], schema))
    return [Piece(names, body, size)]


def in_order(nodes: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
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


def read_nodes(body: RawAnswer | pa.StructArray, decode: DecodeAnswer, query: ListingQuery) -> list[dict[str, Any]]:
    """The run nodes of one ``RunsPage`` answer (GraphQL errors raise here)."""
    if isinstance(body, RawAnswer):
        answer, arrow_nodes = decode(body), None
    else:
        answer, arrow_nodes = page_data(body, light=True), page_nodes(body)
    del body
    page = read_page(answer, RUNS_PATH, operation=documents.RUNS_PAGE.operation, what=query.what)
    del answer
    return page.nodes if arrow_nodes is None else ArrowNodes(page.nodes, arrow_nodes)


class BatchStream:
    """The heavy fields of ``names`` in batches, in flight side by side, yielded in order.

    The first request goes out when the stream is started (:meth:`start`), so a stream made in
    the snapshot's thread is already fetching while the caller decodes the first page.
    """

    def __init__(
        self, post: PostRaw, decode: DecodeAnswer, query: ListingQuery, names: Sequence[str],
        batch_size: int, limiter: AdaptiveLimit, arrow: bool, *, run_bytes: int = 0,
    ) -> None:
        """``run_bytes``: what a run of this listing weighs in an answer, if already known."""
        self._post, self._decode, self._query, self._limiter = post, decode, query, limiter
        self._batch_size = batch_size
        self._names: deque[str] = deque(names)  # not asked for yet
        self._pending: deque[Future[list[Piece]]] = deque()  # each batch's answers, in order
        self._ahead = AHEAD  # batches requested ahead of the one being decoded
        self._read = 0
        self._run_bytes = run_bytes  # the heaviest run so far, per answer (bytes / runs)
        self._schema = runs_page_schema(_batch_variables(query, ())) if arrow else None
        self._pool = ThreadPoolExecutor(max_workers=limiter.maximum, thread_name_prefix="wandb-frames-batch")

    def start(self) -> BatchStream:
        """Send the first request; return the stream."""
        self._fill(1)
        return self

    def _next_size(self) -> int:
        if self._run_bytes <= 0:
            return self._batch_size
        return max(1, min(self._batch_size, ANSWER_BYTES // self._run_bytes))

    def _fill(self, most: int | None = None) -> None:
        # Ask for more batches ahead only while the decoding waits for answers: on a slow link
        # that hides the round trips; when the answers come faster than they are decoded
        # (loopback), more requests at once would only make the server answer each later.
        ahead = min(self._ahead, self._limiter.limit) if most is None else most
        while self._names and len(self._pending) < ahead:
            size = min(self._next_size(), len(self._names))
            chunk = [self._names.popleft() for _ in range(size)]
            self._pending.append(
                self._pool.submit(_fetch_pieces, self._post, self._limiter, self._query, chunk, self._schema))

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        try:
            while self._names or self._pending:
                self._fill()
                batch = self._pending.popleft()
                if not batch.done() and self._read:  # (the first batch was only just asked for)
                    self._ahead = min(2 * self._ahead, self._limiter.maximum)  # decoding waits for the network
                self._read += 1
                self._fill()  # the next requests go out before this batch is read and decoded
                pieces = batch.result()
                del batch
                for piece in pieces:
                    self._run_bytes = max(self._run_bytes, piece.size // max(1, len(piece.names)))
                handed: list[list[dict[str, Any]]] = []
                while pieces:
                    piece = pieces.pop(0)
                    nodes = read_nodes(piece.body, self._decode, self._query)
                    if len(nodes) < len(piece.names):
                        logger.debug("%d of %d listed runs were deleted before their fetch",
                                     len(piece.names) - len(nodes), len(piece.names))
                    handed.append(in_order(nodes, piece.names))
                    del nodes, piece
                    yield handed.pop()  # no page stays referenced by this frame across the yield
        finally:
            self.close()

    def close(self) -> None:
        """Cancel what is not sent yet; wait for the requests in flight."""
        for batch in self._pending:
            batch.cancel()
        self._pending.clear()
        self._names.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


def fetch_batches(
    post: PostRaw,
    decode: DecodeAnswer,
    query: ListingQuery,
    names: Sequence[str],
    batch_size: int,
    limiter: AdaptiveLimit,
    arrow: bool,
) -> Iterator[list[dict[str, Any]]]:
    """Fetch the heavy fields of ``names`` in batches, in flight side by side, yielded in order."""
    if names:
        yield from BatchStream(post, decode, query, names, batch_size, limiter, arrow).start()
