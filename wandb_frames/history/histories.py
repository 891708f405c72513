"""Histories of many runs: a lazy result that streams run by run or materialises once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.distributed.connection import Connection, worker_session
from wandb_frames.errors import ConfigurationError, ExportError, IncompleteResultError, WandbFramesError
from wandb_frames.export import write_parquet, write_parquet_stream
from wandb_frames.graphql.concurrency import AdaptiveLimit
from wandb_frames.history.batches import (
    EVENTS_BATCH,
    EXPORT_BATCH,
    BatchPrefetch,
    LimitedExecutor,
    events_batch,
    export_batch,
)
from wandb_frames.history.fetch import (
    DEFAULT_PAGE_SIZE,
    EventRows,
    Executor,
    ExportInfo,
    Getter,
    Stream,
    check_keys,
    fetch_run_long,
    parquet_getter,
)
from wandb_frames.history.frames import LONG_SCHEMA, LongPart, long_to_wide
from wandb_frames.history.sampling import downsample_long
from wandb_frames.progress import make_progress
from wandb_frames.tabular.dataframes import DtypeBackend, table_to_pandas, table_to_polars

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["Histories", "HistorySource", "fetch_histories"]

#: Fetches one run: run ID → its long part.
RunFetcher = Callable[[str], LongPart]


class Histories:
    """The histories of several runs as one long table: ``run_id, _step, metric, value, …``.

    Nothing is fetched until a method needs it. :meth:`iter_batches` and :meth:`to_parquet`
    stream run by run (runs are fetched concurrently, a bounded number ahead), so a history far
    larger than memory can be written to disk; :meth:`to_arrow` materialises once and caches.
    While runs are fetched, a progress bar counts them (``progress``: None = in notebooks and
    terminals, see :mod:`wandb_frames.progress`).

    Attributes:
        run_ids: The runs, in output order.
        stream: ``"default"`` or ``"system"``.
        skipped: run ID → metric → count of non-numeric values left out (filled as runs arrive).
    """

    def __init__(
        self,
        fetch_one: RunFetcher,
        run_ids: Sequence[str],
        *,
        stream: Stream = "default",
        samples: int | None = None,
        run_columns: Mapping[str, Mapping[str, Any]] | None = None,
        max_workers: int = 8,
        column_arrays: Mapping[str, pa.Array] | None = None,
        source: HistorySource | None = None,
        progress: bool | None = False,
        label: str = "",
        on_close: Callable[[], None] | None = None,
        on_complete: Callable[[set[str]], None] | None = None,
    ) -> None:
        if samples is not None and samples < 2:
            raise ConfigurationError(f"samples must be at least 2 (got {samples}); use None for the full history")
        if max_workers < 1:
            raise ConfigurationError(f"max_workers must be positive (got {max_workers})")
        self.run_ids = list(dict.fromkeys(run_ids))
        self.stream: Stream = stream
        self.skipped: dict[str, dict[str, int]] = {}
        self._fetch_one = fetch_one
        self._samples = samples
        self._max_workers = max_workers
        self._progress = progress
        self._label = label
        self._on_close = on_close
        self._on_complete = on_complete
        self._metrics: set[str] = set()  # the metrics met so far (rows, or left out as non-numeric)
        self._columns = dict(column_arrays) if column_arrays is not None else _column_arrays(
            run_columns or {}, self.run_ids)
        self._table: pa.Table | None = None
        self.source = source
        """How a worker fetches these histories again (``to_dask()``, partitioned parquet), or None."""
        self.provenance: dict[str, Any] = {}
        """Where the rows came from (server, entity/project, …), written into parquet files."""

    def __repr__(self) -> str:
        state = f"{self._table.num_rows} rows" if self._table is not None else "not fetched"
        return f"<Histories {len(self.run_ids)} runs, stream={self.stream!r}, {state}>"

    @property
    def schema(self) -> pa.Schema:
        """The long schema, with the attached run columns appended."""
        fields = list(LONG_SCHEMA)
        fields += [pa.field(name, arr.type) for name, arr in self._columns.items()]
        return pa.schema(fields)

    def _finish(self, idx: int, run_id: str, part: LongPart) -> pa.Table:
        self.skipped[run_id] = part.skipped
        table = part.table
        if self._on_complete is not None:
            self._metrics.update(part.skipped)
            if table.num_rows:
                self._metrics.update(pc.unique(table.column("metric")).cast(pa.string()).to_pylist())
        if self._samples is not None:
            table = downsample_long(table, self._samples)
        for name, arr in self._columns.items():
            table = table.append_column(name, pa.repeat(arr[idx], table.num_rows))
        return table

    def _iter_tables(self) -> Iterator[pa.Table]:
        if self._table is not None:
            yield self._table
            return
        ids = self.run_ids
        bar = make_progress(len(ids), desc=f"histories {self._label}".rstrip(), progress=self._progress)
        with ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="wandb-frames-history") as pool:
            pending: dict[int, Future[LongPart]] = {}
            ahead = 2 * self._max_workers
            for i in range(min(ahead, len(ids))):
                pending[i] = pool.submit(self._fetch_one, ids[i])
            try:
                for i, run_id in enumerate(ids):
                    nxt = i + ahead
                    if nxt < len(ids):
                        pending[nxt] = pool.submit(self._fetch_one, ids[nxt])
                    table = self._finish(i, run_id, pending.pop(i).result())
                    bar.update(1)
                    yield table
                if self._on_complete is not None:
                    self._on_complete(self._metrics)
            finally:
                for fut in pending.values():
                    fut.cancel()
                bar.close()
                if self._on_close is not None:
                    self._on_close()

    def iter_batches(self, max_rows: int | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the long table as record batches, run by run, in :attr:`run_ids` order.

        Args:
            max_rows: Largest batch; default: one batch per run chunk.

        Yields:
            Batches with :attr:`schema`.
        """
        for table in self._iter_tables():
            yield from table.to_batches(max_chunksize=max_rows)

    def to_arrow(self) -> pa.Table:
        """Fetch every run (once) and return the long table.

        Raises:
            IncompleteResultError: a run failed; ``partial`` holds the runs fetched before it.
        """
        if self._table is None:
            tables: list[pa.Table] = []
            try:
                for t in self._iter_tables():
                    tables.append(t)
            except WandbFramesError as exc:
                partial = pa.concat_tables(tables) if tables else self.schema.empty_table()
                failed = self.run_ids[len(tables)] if len(tables) < len(self.run_ids) else "?"
                raise IncompleteResultError(
                    f"fetching the history of run {failed} failed ({exc}); "
                    f"{len(tables)} of {len(self.run_ids)} runs arrived (see .partial)",
                    partial=partial,
                ) from exc
            self._table = pa.concat_tables(tables) if tables else self.schema.empty_table()
        return self._table

    def to_pandas(self, *, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
        """The long table as pandas, ``metric`` as a categorical; NaN is missing there.

        Args:
            dtype_backend: ``None`` (NumPy columns), ``"numpy_nullable"`` or ``"pyarrow"``,
                as for runs frames (``docs/frames.md``).
        """
        return table_to_pandas(self.to_arrow(), dtype_backend=dtype_backend)

    def to_polars(self) -> pl.DataFrame:
        """The long table as a polars DataFrame, values exact as in :meth:`to_arrow` (needs polars)."""
        return table_to_polars(self.to_arrow())

    def to_wide_arrow(self) -> pa.Table:
        """The wide table: ``run_id, _step, _timestamp, _runtime, <metric>…, <run columns>``.

        Outer join by ``(run_id, _step)``: a metric absent at a step is null, never a dropped
        row. For the system stream, rows are keyed by ``_timestamp`` instead of ``_step``.
        """
        long = self.to_arrow()
        index = "_timestamp" if self.stream == "system" else "_step"
        wide = long_to_wide(long, index=index)
        if self._columns and wide.num_rows:
            ids = wide.column("run_id").combine_chunks()
            lookup = pa.array(self.run_ids, pa.string())
            import pyarrow.compute as pc

            pos = pc.index_in(ids, value_set=lookup)
            for name, arr in self._columns.items():
                wide = wide.append_column(name, arr.take(pos))
        return wide

    def to_wide(self, *, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
        """:meth:`to_wide_arrow` as pandas, with the same ``dtype_backend`` rule as :meth:`to_pandas`."""
        return table_to_pandas(self.to_wide_arrow(), dtype_backend=dtype_backend)

    def to_dask(self, *, batch_size: int = 100, format: Literal["long", "wide"] = "long",
                dtype_backend: DtypeBackend = "pyarrow") -> Any:
        """The histories as a lazy ``dask.dataframe.DataFrame``, one partition per batch of runs.

        Nothing is fetched before ``compute``: each partition fetches its runs through the
        code of :meth:`to_arrow` on the worker that computes it; its meta is :attr:`schema`
        (long) converted as ``to_pandas(dtype_backend=dtype_backend)`` converts (``"pyarrow"``
        or ``"numpy_nullable"``: dtypes that do not depend on a partition's values). ``format="wide"`` needs the metric
        names up front (``history_frames(keys=[...])``). The API key is not in the graph: see
        ``docs/scale.md`` for how workers get it; the on-disk cache is not used.

        Raises:
            ConfigurationError: The histories were not made by ``Runs.history_frames``, or wide
                without ``keys``.
        """
        from wandb_frames.history.partitions import histories_to_dask

        return histories_to_dask(self, batch_size=batch_size, format=format, dtype_backend=dtype_backend)

    def to_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        format: Literal["long", "wide"] = "long",
        metadata: Mapping[str, Any] | None = None,
        partition_by: str | Sequence[str] | None = None,
        resume: bool = False,
        batch_size: int = 100,
        use_dask: bool = False,
    ) -> Path:
        """Write the histories to one parquet file, or to a partitioned dataset directory.

        One file (no ``partition_by``): written atomically, with provenance metadata, in row
        groups of ~1M rows. ``format="long"`` streams run by run when nothing was fetched yet
        (memory bounded by the runs in flight and one row group); ``format="wide"`` needs the
        whole table (its columns are known only at the end).

        A dataset (``partition_by="batch"``: one file per batch of ``batch_size`` runs; or
        columns, e.g. ``["metric"]``: Hive folders; long format): resumable with
        ``resume=True`` after a crash, its batches run as Dask tasks with ``use_dask=True``
        (``docs/scale.md``).

        Raises:
            ExportError: the file could not be written.
            IncompleteResultError: a run failed while streaming (no file is left behind).
        """
        if partition_by is not None or resume:
            if format != "long":
                raise ConfigurationError("a partitioned dataset is written in the long format")
            from wandb_frames.history.partitions import histories_to_dataset

            return histories_to_dataset(self, path, partition_by=partition_by or "batch", resume=resume,
                                        batch_size=batch_size, use_dask=use_dask, metadata=metadata)
        meta = {**self.provenance, "stream": self.stream, "format": format, **(metadata or {})}
        if format == "wide":
            return write_parquet(self.to_wide_arrow(), path, metadata=meta)
        if format != "long":
            raise ConfigurationError(f"format must be 'long' or 'wide' (got {format!r})")
        if self._table is not None:
            return write_parquet(self._table, path, metadata=meta)
        written = 0

        def tables() -> Iterator[pa.Table]:
            nonlocal written
            for table in self._iter_tables():
                yield table
                written += 1

        try:
            return write_parquet_stream(tables(), self.schema, path, metadata=meta)
        except ExportError:
            raise
        except WandbFramesError as exc:
            failed = self.run_ids[written] if written < len(self.run_ids) else "?"
            raise IncompleteResultError(
                f"fetching the history of run {failed} failed ({exc}); no file was written "
                f"({written} of {len(self.run_ids)} runs had arrived)",
                partial=None,
            ) from exc


def _column_arrays(columns: Mapping[str, Mapping[str, Any]], run_ids: Sequence[str]) -> dict[str, pa.Array]:
    """run ID → {column: value} to one Arrow array per column, aligned with ``run_ids``."""
    names = list(dict.fromkeys(c for cols in columns.values() for c in cols))
    reserved = set(LONG_SCHEMA.names)
    clash = [n for n in names if n in reserved]
    if clash:
        raise ConfigurationError(f"run columns {clash} clash with history columns; rename them")
    out: dict[str, pa.Array] = {}
    for name in names:
        values = [columns.get(r, {}).get(name) for r in run_ids]
        try:
            out[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            out[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return out


def fetch_histories(
    executor: Executor,
    get: Getter,
    *,
    entity: str,
    project: str,
    run_ids: Sequence[str],
    keys: Sequence[str] | None = None,
    samples: int | None = None,
    stream: Stream = "default",
    min_step: int | None = None,
    max_step: int | None = None,
    run_columns: Mapping[str, Mapping[str, Any]] | None = None,
    max_workers: int | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    wrap: Callable[[Callable[[str], LongPart]], Callable[[str], LongPart]] | None = None,
    column_arrays: Mapping[str, pa.Array] | None = None,
    connection: Connection | None = None,
    limiter: AdaptiveLimit | None = None,
    progress: bool | None = False,
    on_unknown_keys: Callable[[list[str], frozenset[str]], None] | None = None,
) -> Histories:
    """The histories of many runs as one lazy long-format :class:`Histories`.

    What each run's fetch needs first (its parquet export's URLs and live steps, or its system
    rows) is asked for many runs per request (:mod:`~wandb_frames.history.batches`); then the
    downloads run side by side, as many in flight as ``limiter`` allows.

    Args:
        executor: Runs GraphQL operations (the client's transport, with its retries/rate limits).
        get: Downloads parquet URLs.
        entity: The entity.
        project: The project.
        run_ids: Run IDs, in output order (duplicates ignored).
        keys: Only these metrics (any of them per row).
        samples: ``None`` for every point; a number keeps at most that many points per
            ``(run, metric)`` by the deterministic min/max bucket rule.
        stream: ``"default"`` or ``"system"``.
        min_step: First step, inclusive.
        max_step: Last step, exclusive.
        run_columns: run ID → {column: value} attached to every row of that run, e.g.
            ``{"ab12": {"config.lr": 0.01, "group": "g1"}}``.
        max_workers: Requests in flight at most, exactly; None: as many as ``limiter`` allows
            (the transport's adaptive limit: grown on healthy answers, halved on 429/5xx).
        page_size: Steps per ``HistoryPage`` request on the paged path.
        wrap: Wraps the per-run fetch (e.g. with the on-disk cache).
        column_arrays: The run columns as Arrow arrays aligned with ``run_ids`` (instead of
            ``run_columns``; a partition keeps the whole result's types).
        connection: The key-free connection of ``executor``, so that the histories can be
            fetched again batch by batch on workers (``to_dask()``, partitioned parquet).
        limiter: The transport's :class:`~wandb_frames.graphql.concurrency.AdaptiveLimit`;
            None (and no ``max_workers``): 8 requests in flight.
        progress: Show a progress bar of the runs fetched (None: automatic).
        on_unknown_keys: Called once every run was fetched, with the ``keys`` that no run has
            ever logged (in no row, not in any run's ``historyKeys``) and the metric names
            the runs did log; not called when a run's ``historyKeys`` was not seen (a cached
            run, the system stream) or when every key was found.

    Returns:
        A :class:`Histories`; nothing is fetched before it is used.
    """

    check_keys(keys)
    if max_workers is not None and max_workers < 1:
        raise ConfigurationError(f"max_workers must be positive (got {max_workers})")
    if max_workers is not None or limiter is None:
        fixed = max_workers or 8
        limiter = AdaptiveLimit(fixed, minimum=fixed, maximum=fixed)
    limited = LimitedExecutor(executor, limiter)

    def limited_get(url: str) -> bytes:
        with limiter.slot():
            return get(url)

    exports: BatchPrefetch[ExportInfo] | None = None
    events: BatchPrefetch[EventRows] | None = None
    if stream == "system":
        events = BatchPrefetch(events_batch(limited, entity=entity, project=project), run_ids,
                               batch_size=EVENTS_BATCH)
    else:
        exports = BatchPrefetch(export_batch(limited, entity=entity, project=project), run_ids,
                                batch_size=EXPORT_BATCH)

    decoding = threading.BoundedSemaphore(os.cpu_count() or 1)
    logged: dict[str, frozenset[str]] = {}  # run ID → its historyKeys names, as each run is fetched

    def fetch_one(run_id: str) -> LongPart:
        export = exports.get(run_id) if exports is not None else None
        if export is not None and export.keys is not None:
            logged[run_id] = export.keys
        get: Getter = limited_get
        if export is not None and export.urls:
            # Downloads side by side, as many as the limiter allows; the decoding after them
            # one run per core: more threads decoding at once only queue for the GIL (on
            # loopback 32 of them cost ~30 % more CPU in lock hand-offs than they did work).
            files = {url: limited_get(url) for url in export.urls}
            get = files.__getitem__
        with decoding:
            return fetch_run_long(limited, get, entity=entity, project=project, run_id=run_id, keys=keys,
                                  min_step=min_step, max_step=max_step, stream=stream, page_size=page_size,
                                  export=export, events=events.get(run_id) if events is not None else None)

    def close() -> None:
        for prefetch in (exports, events):
            if prefetch is not None:
                prefetch.close()

    source = None
    if connection is not None:
        source = HistorySource(connection, entity, project, keys=tuple(keys) if keys is not None else None,
                               samples=samples, stream=stream, min_step=min_step, max_step=max_step,
                               page_size=page_size, max_workers=max_workers)
    on_complete: Callable[[set[str]], None] | None = None
    if keys and on_unknown_keys is not None and stream == "default":
        wanted, report = list(keys), on_unknown_keys

        def on_complete(met: set[str]) -> None:
            unmet = [key for key in wanted if key not in met]
            if not unmet or not run_ids or any(run_id not in logged for run_id in run_ids):
                return  # every key found, or a run's logged names are unknown: no guess
            known = frozenset().union(*logged.values())
            unknown = [key for key in unmet if key not in known]
            if unknown:
                report(unknown, known)

    return Histories(fetch_one if wrap is None else wrap(fetch_one), run_ids, stream=stream,
                     samples=samples, run_columns=run_columns, max_workers=limiter.maximum,
                     column_arrays=column_arrays, source=source,
                     progress=progress, label=f"{entity}/{project}", on_close=close, on_complete=on_complete)


@dataclass(frozen=True)
class HistorySource:
    """What a worker needs to fetch the histories of a batch of runs again — and no API key."""

    connection: Connection
    entity: str
    project: str
    keys: tuple[str, ...] | None = None
    samples: int | None = None
    stream: Stream = "default"
    min_step: int | None = None
    max_step: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    max_workers: int | None = None

    def histories(self, run_ids: Sequence[str], column_arrays: Mapping[str, pa.Array]) -> Histories:
        """A ``Histories`` of ``run_ids`` over this process's session for the connection."""
        session = worker_session(self.connection)
        return fetch_histories(
            session, parquet_getter(session), entity=self.entity, project=self.project,
            run_ids=run_ids, keys=list(self.keys) if self.keys is not None else None,
            samples=self.samples, stream=self.stream, min_step=self.min_step, max_step=self.max_step,
            max_workers=self.max_workers, page_size=self.page_size, column_arrays=column_arrays,
            limiter=session.transport.limiter,
        )
