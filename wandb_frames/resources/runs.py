"""``Runs``: a lazy listing of a project's runs that becomes one Arrow table.

Why this module is long: ``Runs`` is both wandb's ``Runs`` (indexing, iteration, ``histories``)
and the table export (``to_arrow``/``to_pandas``/``to_parquet``, partial results, and the entry
points of partitioned work, ``to_dask`` and datasets, whose code is
:mod:`wandb_frames.resources.runs_partitions`); the listing itself is
:mod:`wandb_frames.graphql.snapshot`, the cache :mod:`wandb_frames.cache`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import orjson
import pyarrow as pa

from wandb_frames import filters as wff
from wandb_frames.tabular.gcpause import gc_paused
from wandb_frames.cache.listing import CachedListing, cached_table
from wandb_frames.graphql.listing import ListingQuery
from wandb_frames.errors import (
    ApiError,
    CacheError,
    ConfigurationError,
    IncompleteResultError,
    NotFoundError,
)
from wandb_frames.export import provenance, write_parquet
from wandb_frames.graphql import documents
from wandb_frames.graphql.arrow_page import ArrowNodes
from wandb_frames.progress import make_progress
from wandb_frames.graphql.plan import Projection, QueryPlan, plan_query
from wandb_frames.graphql.records import decode_nodes
from wandb_frames.graphql.snapshot import TABLE_BATCH, batch_limiter, iter_snapshot_node_pages
from wandb_frames.resources.compat import INTERNAL, Unsupported
from wandb_frames.resources.run import Run, wire_fields
from wandb_frames.resources.run_history import RunsHistoryFrames, wandb_histories
from wandb_frames.resources.typos import check_listing_names
from wandb_frames.tabular import DtypeBackend, TableAssembler, table_to_pandas, table_to_polars

if TYPE_CHECKING:
    import os

    import pandas as pd
    import polars as pl

    from wandb_frames.resources.session import ApiSession

__all__ = ["Projection", "QueryPlan", "Run", "Runs", "plan_query"]

logger = logging.getLogger("wandb_frames.resources.runs")



def _keep(nodes: list[dict[str, Any]], rows: list[int]) -> list[dict[str, Any]]:
    """The nodes at ``rows``; an ``ArrowNodes`` page stays one (its Arrow rows taken too)."""
    if isinstance(nodes, ArrowNodes):
        return nodes.take(rows)
    return [nodes[row] for row in rows]


class Runs(RunsHistoryFrames):
    """The runs of one project that match a filter, fetched lazily (no request until used).

    Iterating yields :class:`Run` objects (a fresh fetch each time); :meth:`to_arrow`,
    :meth:`to_pandas` and :meth:`to_parquet` give one row per run. The first
    ``to_arrow()`` result is kept on the object (see :meth:`refresh`), as ``wandb.Api``
    keeps loaded runs until ``api.flush()``.

    Args:
        api: The :class:`~wandb_frames.api.Api` to send requests through.
        entity: The entity, or None for the Api's default entity (resolved on first use).
        project: The project name.
        filters: MongoDB-style dict or expression string (validated now).
        order: Sort order, e.g. ``"-summary_metrics.loss"``.
        per_page: Runs per heavy request.
        limit: Stop after this many runs.
        columns: Column names or globs to keep.
        sep: Separator of nested column names.
        progress: Progress bar: None = automatic.
        concurrency: Heavy requests in flight (after the ID snapshot, batches by name); 0/1 =
            one stream (the next batch asked for while one is decoded); None = adaptive (the
            transport's limit, more only while decoding waits for answers).
        offline: Answer from the on-disk cache only (``docs/cache.md``); no request is sent.
    """

    def __init__(
        self,
        api: ApiSession,
        entity: str | None,
        project: str,
        *,
        filters: Mapping[str, Any] | str | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
        sep: str = ".",
        progress: bool | None = None,
        concurrency: int | None = None,
        offline: bool = False,
        include_sweeps: bool = False,
        lazy: bool = True,
    ) -> None:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ConfigurationError(f"per_page must be a positive integer, got {per_page!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ConfigurationError(f"limit must be a non-negative integer or None, got {limit!r}")
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 0):
            raise ConfigurationError(f"concurrency must be a non-negative integer, got {concurrency!r}")
        self._api = api
        self._entity = entity
        self.project = project
        self.filters: Mapping[str, Any] | str = filters if filters is not None else {}
        self.order = order
        self.per_page = per_page
        self.limit = limit
        self.sep = sep
        self.progress = progress
        self.concurrency = concurrency
        self.offline = offline
        self.columns = tuple(columns) if columns is not None else None
        self._only_ids: tuple[str, ...] | None = None  # a partition: these runs ($in), no other server filter
        self._plan = plan_query(filters, order)
        self.projection = Projection.from_columns(
            columns, sep=sep, everything=self._plan.local is not None
        )
        self.include_sweeps = include_sweeps
        self.lazy = lazy
        self._objects: list[Run] | None = None
        self._count: int | None = None
        self._table: pa.Table | None = None
        self._full: pa.Table | None = None

    convert_objects = Unsupported(INTERNAL)
    cursor = Unsupported(INTERNAL)
    more = Unsupported(INTERNAL)
    next = Unsupported(INTERNAL)
    update_variables = Unsupported(INTERNAL)
    last_response = Unsupported(INTERNAL)
    QUERY = Unsupported(INTERNAL)
    index = Unsupported(INTERNAL)
    variables = Unsupported(INTERNAL)
    objects = Unsupported(INTERNAL)

    def __repr__(self) -> str:
        return f"<Runs {self._entity or '?'}/{self.project}>"

    @property
    def entity(self) -> str:
        """The entity (the Api's default entity when the path gave none)."""
        if self._entity is None:
            self._entity = self._api.resolve_entity(None)
        return self._entity

    @property
    def path(self) -> str:
        """``"entity/project"``."""
        return f"{self.entity}/{self.project}"

    @property
    def filter_plan(self) -> Any:
        """How the filter was split: ``.server`` (sent), ``.local`` (applied here), ``.notes``."""
        return self._plan.filter_plan

    def _query(self) -> ListingQuery:
        p = self.projection
        filters_json = self._plan.server_filters
        if self._only_ids is not None:  # IDs listed with the server filter; fetched by batch like concurrency=
            filters_json = orjson.dumps({"name": {"$in": list(self._only_ids)}}).decode()
        return ListingQuery(
            entity=self.entity,
            project=self.project,
            filters_json=filters_json,
            order=self._plan.server_order,
            config_keys=p.config_keys,
            summary_keys=p.summary_keys,
            with_config=p.with_config,
            with_summary=p.with_summary,
            with_system=p.with_system,
            with_metadata=p.with_metadata,
        )

    def _cached_listing(self) -> CachedListing:
        """This listing as the on-disk cache sees it (see :mod:`wandb_frames.cache`)."""
        return CachedListing(
            session=self._api, entity=self.entity, project=self.project, filters=self.filters,
            plan=self._plan, query=self._query(), with_metadata=self.projection.with_metadata,
            per_page=self.per_page, limit=self.limit, sep=self.sep, progress=self.progress,
            concurrency=self.concurrency, offline=self.offline,
        )

    # -- counting ----------------------------------------------------------------------
    def __len__(self) -> int:
        """The number of matching runs (``runCount``, fetched once; capped by ``limit``).

        With a filter part evaluated locally, the rows are fetched and counted instead.
        """
        if self._plan.local is not None or self.offline:
            return int(self.to_arrow().num_rows)
        if self._count is None:
            data = self._api.execute(
                documents.RUN_COUNT,
                {"entity": self.entity, "project": self.project, "filters": self._plan.server_filters},
            )
            project = data.get("project")
            if project is None:
                raise NotFoundError(
                    f"project {self.path} not found",
                    operation=documents.RUN_COUNT.operation,
                    what=f"project {self.path}",
                )
            self._count = int(project["runCount"])
        return self._count if self.limit is None else min(self._count, self.limit)

    # -- streaming -----------------------------------------------------------------------
    def _iter_node_pages(self, on_count: Any, *, for_table: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Heavy run nodes in batches: an ID snapshot, then batches fetched side by side
        (:mod:`~wandb_frames.graphql.snapshot`). A table takes batches of at least
        :data:`TABLE_BATCH` runs; iteration takes ``per_page``."""
        api = self._api
        per_page = max(self.per_page, TABLE_BATCH) if for_table else self.per_page
        # Only a result the server alone decides may stop fetching at `limit`.
        limit = self.limit if self._plan.exact_on_server else None
        if limit is not None:
            per_page = max(1, min(per_page, limit))
        return iter_snapshot_node_pages(
            api.execute, api.execute_raw, api.decode_answer, self._query(), per_page,
            limiter=batch_limiter(self.concurrency, api.transport.limiter), limit=limit, on_count=on_count, arrow=for_table,
        )

    def iter_records(self, wire: dict[str, dict[str, Any]] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield decoded runs page by page: de-duplicated by ID, capped by ``limit``.

        The local part of the filter is not applied here (see :meth:`to_arrow`). ``wire``,
        when given, receives each run's fields as sent (``Run``'s ISO timestamps), by run ID.
        """
        for nodes in self._iter_fresh_nodes():
            if wire is not None:
                for node in nodes:
                    wire[node["name"]] = wire_fields(node)
            yield decode_nodes(self._api, nodes, self.entity, self.project)

    def _iter_fresh_nodes(self, *, for_table: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Raw run nodes page by page: de-duplicated by ``name`` (the run ID), capped by ``limit``.

        ``for_table``: every page is decoded into a table and dropped, so its JSON strings may
        be views of the answer's Arrow buffer (see :mod:`~wandb_frames.graphql.arrow_page`).
        """
        if self.offline:
            raise CacheError("offline runs are answered as tables: use to_arrow() or to_pandas()")
        if self.limit == 0:
            return
        bar = make_progress(None, desc=f"runs {self.project}", progress=self.progress)

        def on_count(total: int) -> None:
            self._count = total
            bar.total = total if self.limit is None else min(total, self.limit)
            if hasattr(bar, "refresh"):
                bar.refresh()

        seen: set[str] = set()
        duplicates = 0
        kept = 0
        cut = self.limit is not None and self._plan.exact_on_server
        pages = self._iter_node_pages(on_count, for_table=for_table)
        try:
            for nodes in pages:
                names = [node["name"] for node in nodes]
                page_names = set(names)
                if len(page_names) == len(names) and seen.isdisjoint(page_names):
                    seen |= page_names
                    fresh = nodes  # all new: the page as it came (an ArrowNodes stays one)
                else:
                    fresh = self._drop_seen(nodes, names, seen)
                    duplicates += len(nodes) - len(fresh)
                del names, page_names
                if cut and self.limit is not None and len(fresh) > self.limit - kept:
                    fresh = _keep(fresh, list(range(max(0, self.limit - kept))))
                kept += len(fresh)
                bar.update(len(nodes))
                del nodes
                handed = [fresh]
                del fresh
                # No page stays referenced by this frame across the yield: the caller's last
                # reference frees it (before the next page is parsed, with the GC still paused).
                yield handed.pop()
                if cut and self.limit is not None and kept >= self.limit:
                    break
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            bar.close()
            if duplicates:
                logger.debug("%s: dropped %d duplicate run(s) across pages", self.path, duplicates)

    @staticmethod
    def _drop_seen(nodes: list[dict[str, Any]], names: list[str], seen: set[str]) -> list[dict[str, Any]]:
        """The nodes whose name is neither in ``seen`` nor earlier on the page (added to ``seen``)."""
        rows = []
        for row, run_id in enumerate(names):
            if run_id not in seen:
                seen.add(run_id)
                rows.append(row)
        return _keep(nodes, rows)

    def __iter__(self) -> Iterator[Run]:
        """Yield :class:`Run` objects (each call fetches afresh)."""
        wire: dict[str, dict[str, Any]] = {}
        for records in self._iter_kept(wire):
            for record in records:
                yield Run(self._api, record, full=self.projection.columns is None, wire=wire.pop(record["id"], None))

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        """``runs[0]``, ``runs[-1]``, ``runs[2:5]``: the runs in order (fetched once, then kept).

        Raises:
            IndexError: No run at ``index``.
        """
        if self._objects is None:
            self._objects = list(self)
        return self._objects[index]

    def upgrade_to_full(self) -> None:
        """Kept for ``wandb`` parity: runs already load every field when first read."""
        self.lazy = False

    def _flat_table(self, records: Sequence[Mapping[str, Any]], sep: str) -> pa.Table:
        assembler = TableAssembler(sep=sep)
        assembler.add_runs(records)
        return assembler.finish()

    def _select_local(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep the records the local filter part selects.

        Filters name columns with ``.`` (``config.lr``), whatever separator the frame uses,
        so the mask is computed on a ``.``-flattened table.
        """
        if self._plan.local is None or not records:
            return records
        keep = wff.mask(self._flat_table(records, "."), self._plan.local).to_pylist()
        return [r for r, k in zip(records, keep, strict=True) if k]

    def _sort_permutation(self, dotted: pa.Table) -> pa.Array:
        """Row positions of ``dotted`` (a ``.``-flattened table) in the requested order."""
        position = "__wandb_frames_position__"
        indexed = dotted.append_column(position, pa.array(range(dotted.num_rows), pa.int64()))
        assert self._plan.order is not None  # sort_locally implies a parsed order
        return wff.sort_table(indexed, self._plan.order).column(position).combine_chunks()

    def _iter_kept(self, wire: dict[str, dict[str, Any]] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Decoded pages with the local filter part, a local order and ``limit`` applied.

        With an order the server cannot apply, every matching run is collected, sorted and
        yielded as one page; otherwise pages stream and stop once ``limit`` is reached.
        """
        if self._plan.exact_on_server:
            yield from self.iter_records(wire)
            return
        if self._plan.sort_locally:
            kept = [r for records in self.iter_records(wire) for r in self._select_local(records)]
            order = self._sort_permutation(self._flat_table(kept, ".")).to_pylist()
            chosen = [kept[i] for i in order]
            yield chosen if self.limit is None else chosen[: self.limit]
            return
        count = 0
        for records in self.iter_records(wire):
            chosen = self._select_local(records)
            if self.limit is not None:
                chosen = chosen[: self.limit - count]
            count += len(chosen)
            yield chosen
            if self.limit is not None and count >= self.limit:
                return

    def iter_batches(self) -> Iterator[pa.Table]:
        """Yield one table per page (each page's own column set and types).

        With an order the server cannot apply, there is one batch: every matching run, sorted.
        """
        for records in self._iter_kept():
            yield self.projection.select(self._flat_table(records, self.sep))

    # -- materialising -------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """Fetch every matching run into one table (one row per run; cached on the object).

        Raises:
            ApiError: The first request failed (e.g. ``NotFoundError`` for an unknown project).
            IncompleteResultError: A later page failed; ``.partial`` holds the rows received.
        """
        if self._table is None:
            full = self._full_table()
            self._table = self.projection.select(full)
            if not self.offline:
                check_listing_names(self.filters, self.projection.columns, self.sep, full.column_names,
                                    self._sample_columns, f"the runs of {self.path}")
        return self._table

    def _sample_columns(self) -> list[str]:
        """The columns of one unfiltered page of the project (names to suggest for a typo)."""
        sample = Runs(self._api, self.entity, self.project, limit=self.per_page, sep=self.sep, progress=False)
        return list(sample._full_table().column_names)

    def _full_table(self) -> pa.Table:
        """Every matching run with every fetched column (before the ``columns=`` selection)."""
        if self._full is None:
            self._full = self._fetch_table()
        return self._full

    def _fetch_table(self) -> pa.Table:
        if self.offline or self._api.cache is not None:
            return cached_table(self._cached_listing(), self._api.cache)
        sep = self.sep
        assembler = TableAssembler(sep=sep)
        # A local order is computed on '.'-named columns, like filters.
        dotted = TableAssembler(sep=".") if self._plan.sort_locally and sep != "." else None
        pages = rows = 0
        if self._plan.exact_on_server and not self.projection.with_metadata:
            # The common case: decode and flatten each page in one pass, straight to columns.
            node_pages = self._iter_fresh_nodes(for_table=True)
            try:
                while True:
                    with gc_paused():  # each page is parsed, flattened and freed without a GC scan
                        nodes = next(node_pages, None)
                        if nodes is None:
                            break
                        assembler.add_nodes(nodes, entity=self.entity, project=self.project)
                        rows += len(nodes)
                        nodes = None  # freed before the collector resumes and the next page is parsed
                    pages += 1
            except ApiError as exc:
                if pages == 0:
                    raise
                raise self._incomplete(exc, rows, pages, assembler) from exc
            return assembler.finish()
        source = self.iter_records() if self._plan.exact_on_server or self._plan.sort_locally \
            else self._iter_kept()
        try:
            for records in source:
                if self._plan.sort_locally:
                    records = self._select_local(records)
                    if dotted is not None:
                        dotted.add_runs(records)
                assembler.add_runs(records)
                pages += 1
                rows += len(records)
        except ApiError as exc:
            if pages == 0:
                raise
            raise self._incomplete(exc, rows, pages, assembler) from exc
        table = assembler.finish()
        if self._plan.sort_locally:
            table = table.take(self._sort_permutation(dotted.finish() if dotted else table))
            if self.limit is not None:
                table = table.slice(0, self.limit)
        return table

    def _incomplete(
        self, exc: ApiError, rows: int, pages: int, assembler: TableAssembler
    ) -> IncompleteResultError:
        return IncompleteResultError(
            f"fetching runs of {self.path} stopped after {rows} run(s) on page {pages + 1}: "
            f"{exc}; nothing was returned as complete (.partial holds what arrived)",
            partial=self.projection.select(assembler.finish()),
        )

    def to_pandas(self, *, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
        """The runs as a DataFrame; NaN is missing there (``dtype_backend``: see ``docs/frames.md``)."""
        return table_to_pandas(self.to_arrow(), dtype_backend=dtype_backend)

    def to_polars(self) -> pl.DataFrame:
        """The runs as a polars DataFrame, values exact as in :meth:`to_arrow` (needs polars)."""
        return table_to_polars(self.to_arrow())

    def to_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        partition_by: str | Sequence[str] | None = None,
        resume: bool = False,
        batch_size: int = 1000,
        use_dask: bool = False,
        **kwargs: Any,
    ) -> os.PathLike[str]:
        """Write the runs to one parquet file (atomically), or to a resumable dataset directory.

        ``partition_by="batch"`` (a file per batch of ``batch_size`` runs) or columns (Hive
        folders, e.g. ``["state"]``) write a dataset: IDs listed first, batches fetched with
        ``$in``; ``resume=True`` skips the batches an interrupted export finished;
        ``use_dask=True`` runs batches as Dask tasks (``docs/scale.md``). Every file's metadata
        records server, entity/project, filters and order as given and sent, fetch time —
        never the API key.
        """
        if partition_by is None and not resume:
            return write_parquet(self.to_arrow(), path, metadata=self._provenance(), **kwargs)
        from wandb_frames.resources.runs_partitions import runs_to_dataset

        return runs_to_dataset(self, path, partition_by=partition_by or "batch", resume=resume,
                               batch_size=batch_size, use_dask=use_dask, **kwargs)

    def to_dask(self, *, batch_size: int = 1000, meta: Any = "first",
                dtype_backend: DtypeBackend = "pyarrow") -> Any:
        """A lazy ``dask.dataframe.DataFrame``: one partition per batch of runs (``docs/scale.md``).

        The IDs are listed now (light requests); each partition fetches its batch with ``$in``
        through :meth:`to_arrow`'s code when computed. Index: the run's listing position.
        ``meta``: ``"first"`` (the first batch's schema, fetched now; a later batch with a
        column it lacks raises ``SchemaError``), ``"scan"`` (every batch's schema unified by
        the ``to_arrow()`` rule: exact, one extra fetch) or a ``pa.Schema``. Partitions are
        converted as ``to_pandas(dtype_backend=...)`` (``"pyarrow"`` or ``"numpy_nullable"``).

        Raises:
            ConfigurationError: An order or ``limit`` that only a local pass could apply.
        """
        from wandb_frames.resources.runs_partitions import runs_to_dask

        return runs_to_dask(self, batch_size=batch_size, meta=meta, dtype_backend=dtype_backend)

    def histories(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Literal["default", "pandas", "polars"] = "default",
        stream: Literal["default", "system"] = "default",
    ) -> Any:
        """Every run's sampled history, exactly as ``wandb``'s ``Runs.histories``.

        ``run.history(samples, keys, x_axis, pandas=False, stream)`` of each run (rows sampled
        by the server), each row tagged with ``run_id``: a list of dicts (``"default"``), or one
        pandas/polars frame with sorted columns. For the complete, typed histories use
        :meth:`history_frames`.

        Raises:
            ConfigurationError: ``format`` is not ``"default"``, ``"pandas"`` or ``"polars"``.
        """
        return wandb_histories(iter(self), samples, keys, x_axis, format, stream)

    def _provenance(self, **extra: Any) -> dict[str, Any]:
        """Where this listing comes from, for parquet metadata (never the API key)."""
        return provenance(
            server=self._api.settings.base_url,
            entity=self.entity,
            project=self.project,
            filters=self.filters if isinstance(self.filters, str) else dict(self.filters or {}),
            filters_sent=self._plan.server_filters,
            order=self.order,
            order_sent=self._plan.server_order,
            limit=self.limit,
            columns=list(self.projection.columns) if self.projection.columns is not None else None,
            sep=self.sep,
            **extra,
        )

    def refresh(self) -> None:
        """Forget the cached table, runs and count; the next call fetches again."""
        self._objects = None
        self._table = None
        self._full = None
        self._count = None
