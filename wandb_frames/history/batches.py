"""What each run's history fetch needs to know first, asked for many runs in one request.

Fetching one run's history costs a ``RunParquetHistory`` request (the export's URLs, the live
tail's steps, ``lastStep``) before its parquet download: two round trips per run, the first
of which says nothing that could not be asked for many runs at once. :class:`BatchPrefetch`
asks it in batches instead, through the runs listing itself (``RunsParquetHistory``: the
same fields under ``runs(filters: {"name": {"$in": [...]}})``), so a run's fetch is its
download alone. The system stream's rows come the same way (``RunsEvents``): the whole fetch
of a batch of runs is one request.

The answer is the very data the per-run query returns, so the histories built from it are
the same tables. A run missing from a batch's answer (deleted meanwhile, or never there) and
every run of a batch whose request failed with a GraphQL error (a server without the parquet
export, one run's export failing) fall back to the per-run requests, which decide as they
always did (:func:`~wandb_frames.history.fetch.fetch_run_long`); after such a failure no
further batch is tried. A batch the server could not send (a server error or a timeout after
the retries: every system row of many long runs may be too large for one answer) falls back
the same way, for its own runs only.

Batches are asked for when the fetch of one of their runs starts, plus :data:`LOOKAHEAD`
batches after it, each request holding a slot of the transport's
:class:`~wandb_frames.graphql.concurrency.AdaptiveLimit`; runs answered from the on-disk cache
never start a fetch, so a batch of cached runs is never asked for.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import graphql
import orjson

from wandb_frames.errors import ApiError, GraphQLError, NotFoundError, ProtocolError
from wandb_frames.graphql.batch_stream import too_large
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.graphql.documents import Document
from wandb_frames.history.fetch import EventRows, Executor, ExportInfo, load_query

__all__ = ["EVENTS_BATCH", "EXPORT_BATCH", "LOOKAHEAD", "SAMPLED_BATCH", "BatchPrefetch", "LimitedExecutor",
           "events_batch", "export_batch", "sampled_batch"]

logger = logging.getLogger("wandb_frames.history")

T = TypeVar("T")

EXPORT_BATCH = 100
"""Runs per ``RunsParquetHistory`` request (URLs, live steps and keys: a few KB per run)."""
EVENTS_BATCH = 25
"""Runs per ``RunsEvents`` request (every system row of each run: up to a few hundred KB per run)."""
SAMPLED_BATCH = 50
"""Runs per request of wandb's sampled history (``RunsFullHistory``…: up to ``samples`` rows each)."""
LOOKAHEAD = 1
"""Batches asked for ahead of the one a fetch is waiting for."""
_INT_MAX = 2**31 - 1

#: Asks for one batch: run IDs → {run ID: what the per-run fetch needs}.
FetchBatch = Callable[[Sequence[str]], dict[str, T]]


class LimitedExecutor:
    """An executor whose every request holds a slot of ``limiter`` (requests in flight)."""

    def __init__(self, executor: Executor, limiter: AdaptiveLimit) -> None:
        self._executor = executor
        self._limiter = limiter

    def execute(
        self, document: Document | graphql.DocumentNode, variables: Mapping[str, Any], *, operation: str | None = None
    ) -> dict[str, Any]:
        """Run ``document`` through the wrapped executor, inside one slot of the limit."""
        with self._limiter.slot():
            return self._executor.execute(document, variables, operation=operation)


def _run_nodes(data: Mapping[str, Any], *, entity: str, project: str, operation: str) -> dict[str, dict[str, Any]]:
    """``{name: node}`` from a ``project { runs { edges { node } } }`` answer."""
    proj = data.get("project") if isinstance(data, Mapping) else None
    if proj is None:
        raise NotFoundError(f"project {entity}/{project} not found", operation=operation, what="project")
    runs = proj.get("runs") if isinstance(proj, Mapping) else None
    edges = runs.get("edges") if isinstance(runs, Mapping) else None
    if not isinstance(edges, list):
        raise ProtocolError(f"{operation}: 'runs.edges' is not a list", operation=operation)
    out: dict[str, dict[str, Any]] = {}
    for edge in edges:
        node = edge.get("node") if isinstance(edge, Mapping) else None
        if isinstance(node, dict) and isinstance(node.get("name"), str):
            out[node["name"]] = node
    return out


def _by_name(names: Sequence[str]) -> str:
    return orjson.dumps({"name": {"$in": list(names)}}).decode()


def export_batch(executor: Executor, *, entity: str, project: str) -> FetchBatch[ExportInfo]:
    """Asks for the :class:`~wandb_frames.history.fetch.ExportInfo` of a batch of runs."""
    op = "RunsParquetHistory"

    def fetch(names: Sequence[str]) -> dict[str, ExportInfo]:
        variables = {"entity": entity, "project": project, "filters": _by_name(names), "first": len(names),
                     "liveKeys": ["_step"]}
        data = executor.execute(load_query(op), variables, operation=op)
        nodes = _run_nodes(data, entity=entity, project=project, operation=op)
        return {name: ExportInfo.from_node(node) for name, node in nodes.items()}

    return fetch


def events_batch(executor: Executor, *, entity: str, project: str) -> FetchBatch[EventRows]:
    """Asks for the system rows (:class:`~wandb_frames.history.fetch.EventRows`) of a batch of runs."""
    op = "RunsEvents"

    def fetch(names: Sequence[str]) -> dict[str, EventRows]:
        variables = {"entity": entity, "project": project, "filters": _by_name(names), "first": len(names),
                     "samples": _INT_MAX}
        data = executor.execute(load_query(op), variables, operation=op)
        nodes = _run_nodes(data, entity=entity, project=project, operation=op)
        return {name: EventRows.from_node(node, op) for name, node in nodes.items()}

    return fetch


def sampled_batch(
    executor: Executor, *, entity: str, project: str, samples: int, keys: Sequence[str] | None, x_axis: str,
    stream: str,
) -> FetchBatch[list[dict[str, Any]]]:
    """Asks for wandb's sampled history rows (``run.history(samples, keys, x_axis, stream)``) of a
    batch of runs: the field and arguments each per-run query sends, the rows decoded as it does."""
    variables: dict[str, Any] = {"entity": entity, "project": project}
    if keys:
        op, field = "RunsSampledHistory", "sampledHistory"
        variables["specs"] = [json.dumps({"keys": [x_axis, *keys], "samples": samples})]
    else:
        op, field = ("RunsFullHistory", "history") if stream == "default" else ("RunsFullEvents", "events")
        variables["samples"] = samples

    def rows(node: Mapping[str, Any]) -> list[dict[str, Any]]:
        if keys:
            answers = node.get(field) or [[]]
            return [dict(row) for row in (answers[0] or [])]
        return [json.loads(line) for line in node.get(field) or []]

    def fetch(names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        data = executor.execute(load_query(op), {**variables, "filters": _by_name(names), "first": len(names)},
                                operation=op)
        nodes = _run_nodes(data, entity=entity, project=project, operation=op)
        return {name: rows(node) for name, node in nodes.items()}

    return fetch


class BatchPrefetch(Generic[T]):
    """Per-run answers fetched a batch at a time, on first need, ahead of the runs that wait.

    Args:
        fetch_batch: Asks for one batch (see :func:`export_batch`, :func:`events_batch`).
        run_ids: Every run, in the order their fetches will start.
        batch_size: Runs per request.
        lookahead: Batches asked for after the one needed now.
        workers: Batch requests in flight at most.
    """

    def __init__(
        self,
        fetch_batch: FetchBatch[T],
        run_ids: Sequence[str],
        *,
        batch_size: int,
        lookahead: int = LOOKAHEAD,
        workers: int = 2,
    ) -> None:
        self._fetch_batch = fetch_batch
        ids = list(dict.fromkeys(run_ids))
        self._batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
        self._batch_of = {run_id: i // batch_size for i, run_id in enumerate(ids)}
        self._lookahead = lookahead
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[dict[str, T] | None]] = {}
        self._failed = False
        self.requests = 0
        """Batch requests sent (for tests and logs)."""

    def get(self, run_id: str) -> T | None:
        """``run_id``'s answer; None: the caller asks for it alone (see the module docstring)."""
        index = self._batch_of.get(run_id)
        if index is None:
            return None
        with self._lock:
            if self._failed:
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="wandb-frames-prefetch")
            for k in range(index, min(index + 1 + self._lookahead, len(self._batches))):
                if k not in self._pending:
                    self._pending[k] = self._pool.submit(self._fetch, k)
            future = self._pending[index]
        answers = future.result()
        return None if answers is None else answers.get(run_id)

    def _fetch(self, index: int) -> dict[str, T] | None:
        if self._failed:
            return None
        self.requests += 1
        batch = self._batches[index]
        try:
            return self._fetch_batch(batch)
        except GraphQLError as exc:
            # e.g. a server without the parquet export: each run asks alone, as it always did
            logger.info("asking for %d runs at once failed (%s); asking run by run", len(batch), exc)
            self._failed = True
            return None
        except ApiError as exc:
            if len(batch) < 2 or not too_large(exc):
                raise
            # an answer too large to send (every system row of many long runs): this batch's
            # runs ask alone; the next batches are still asked for together
            logger.info("no answer for %d runs at once (%s); asking for them run by run", len(batch), exc)
            return None

    def close(self) -> None:
        """Forget every answer (URLs expire) and stop the workers; a later :meth:`get` starts over."""
        with self._lock:
            pool, self._pool = self._pool, None
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
