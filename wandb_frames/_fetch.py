"""Fetch strategies for run listings: sequential (pipelined) and batched-concurrent.

Both yield lists of raw GraphQL ``Run`` nodes in server order and know nothing about
frames. Neither depends on the cursor format:

- :func:`iter_node_pages` walks ``RunsPage`` with the heavy fields (one request per page);
  :func:`prefetch` runs such a generator in a thread so the next page is on the wire
  while the caller decodes the current one.
- :func:`iter_batched_node_pages` lists IDs with the light ``RunIdsPage`` and fetches the
  heavy fields for batches of IDs in parallel with ``{"name": {"$in": [...]}}``,
  re-ordering each batch to the listing's order.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from wandb_frames.graphql import documents
from wandb_frames.graphql.pagination import Execute, iter_pages

__all__ = [
    "METADATA_FILE",
    "ListingQuery",
    "iter_batched_node_pages",
    "iter_node_pages",
    "prefetch",
]

logger = logging.getLogger("wandb_frames.runs")
T = TypeVar("T")
METADATA_FILE = "wandb-metadata.json"
ID_PAGE_SIZE = 1000


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
) -> Iterator[list[dict[str, Any]]]:
    """Yield heavy run nodes page by page (``runCount`` only on the first request).

    With ``limit``, no page is requested once ``limit`` distinct runs have been yielded (a
    prefetching consumer would otherwise fetch, and wait for, one page it then throws away).
    """
    variables = query.variables(with_count=True)
    names: set[Any] = set()
    for page in iter_pages(
        execute, documents.RUNS_PAGE, variables, page_size=per_page, what=query.what
    ):
        if variables["withCount"]:
            _report_count(page.parent, on_count)
            variables["withCount"] = False  # iter_pages copies variables on each request
        if limit is not None:
            names.update(node.get("name") for node in page.nodes)
        yield page.nodes
        if limit is not None and len(names) >= limit:
            return


def prefetch(source: Callable[[], Iterator[T]], depth: int = 1) -> Iterator[T]:
    """Run ``source()`` in a background thread, at most ``depth`` items ahead of the consumer.

    The thread asks ``source`` for item ``k + depth`` only once the consumer has taken item
    ``k``: with ``depth=1`` the next page is fetched while the current one is decoded, and
    a consumer that stops early (a ``limit``) leaves at most one page in flight.
    Exceptions raised by the source are re-raised in the consumer; closing the returned
    generator stops the thread after its current item.
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


def _fetch_batch(
    execute: Execute, query: ListingQuery, names: Sequence[str]
) -> list[dict[str, Any]]:
    filters = orjson.dumps({"name": {"$in": list(names)}}).decode()
    variables = query.variables(filters_json=filters, with_count=False)
    nodes: list[dict[str, Any]] = []
    for page in iter_pages(
        execute, documents.RUNS_PAGE, variables, page_size=len(names), what=query.what
    ):
        nodes.extend(page.nodes)
    position = {name: i for i, name in enumerate(names)}
    found = [n for n in nodes if n.get("name") in position]
    if len(found) < len(names):
        logger.debug("%d of %d listed runs vanished before their fetch", len(names) - len(found), len(names))
    found.sort(key=lambda n: position[n["name"]])
    return found


def iter_batched_node_pages(
    execute: Execute,
    query: ListingQuery,
    per_page: int,
    *,
    workers: int,
    limit: int | None = None,
    on_count: Callable[[int], None] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """List IDs (light pages), fetch heavy batches of ``per_page`` IDs on ``workers`` threads.

    Batches are yielded in listing order; IDs listed twice are fetched once.
    """
    id_vars = {
        "entity": query.entity,
        "project": query.project,
        "filters": query.filters_json,
        "order": query.order,
        "withCount": True,
    }
    page_size = max(per_page, ID_PAGE_SIZE) if limit is None else max(1, min(limit, ID_PAGE_SIZE))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wandb-frames-fetch")
    pending: deque[Future[list[dict[str, Any]]]] = deque()
    seen: set[str] = set()
    batch: list[str] = []
    try:
        for page in iter_pages(
            execute, documents.RUN_IDS_PAGE, id_vars, page_size=page_size, what=query.what
        ):
            if id_vars["withCount"]:
                _report_count(page.parent, on_count)
                id_vars["withCount"] = False
            for node in page.nodes:
                name = node.get("name")
                if isinstance(name, str) and name not in seen:
                    seen.add(name)
                    batch.append(name)
                    if len(batch) == per_page:
                        pending.append(pool.submit(_fetch_batch, execute, query, batch))
                        batch = []
            while pending and pending[0].done():
                yield pending.popleft().result()
            if limit is not None and len(seen) >= limit:
                break
        if batch:
            pending.append(pool.submit(_fetch_batch, execute, query, batch))
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
