"""``Runs`` cut into batches of run IDs: Dask partitions and partitioned parquet datasets.

The run IDs are listed first (light ``RunIdsPage`` requests, with the server part of the
filter and the order); each batch is then fetched by a :class:`RunsSource` — a picklable,
key-free description of the listing — with ``{"name": {"$in": [...]}}`` through a ``Runs``
object of its own, so through exactly the code of ``Runs.to_arrow()``: the same transport and
retries, the same local filter part, the same flattening. Rows come in listing order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from wandb_frames.distributed.connection import Connection, worker_session
from wandb_frames.export import COMPRESSION
from wandb_frames.distributed.dataset import (
    ROW_GROUP_SIZE,
    BatchWriter,
    finish_dataset,
    open_dataset,
    run_batches,
)
from wandb_frames.distributed.frames import dask_frame, frame_converter, import_dask
from wandb_frames.errors import ConfigurationError
from wandb_frames.graphql.snapshot import list_run_ids
from wandb_frames.graphql.session import Session
from wandb_frames.tabular.unify import unify_schemas

__all__ = ["RunBatch", "RunsSource", "runs_to_dask", "runs_to_dataset"]


@dataclass(frozen=True, slots=True)
class RunBatch:
    """One partition: the ``index``-th batch, whose first run is at ``start`` in the listing."""

    index: int
    start: int
    ids: tuple[str, ...]


@dataclass(frozen=True)
class RunsSource:
    """Everything a worker needs to fetch a batch of a listing — and no API key.

    ``runs_class`` is :class:`~wandb_frames.resources.runs.Runs` (pickled by reference; held
    here so that this module does not import ``runs``, which imports it).
    """

    runs_class: Any
    connection: Connection
    entity: str
    project: str
    filters: Any
    order: str
    per_page: int
    columns: tuple[str, ...] | None
    sep: str

    def __call__(self, part: RunBatch) -> pa.Table:
        """The batch's runs table, fetched in this process (a Dask partition)."""
        return self.fetch(worker_session(self.connection), part.ids)

    def fetch(self, session: Session, ids: Sequence[str]) -> pa.Table:
        """The runs ``ids`` (those the local filter part keeps) as ``to_arrow()`` builds them."""
        runs = self.runs_class(
            session,  # a worker session: no on-disk cache
            self.entity, self.project, filters=self.filters, order=self.order,
            per_page=max(1, min(self.per_page, len(ids))), columns=self.columns, sep=self.sep,
            progress=False, concurrency=0,
        )
        runs._only_ids = tuple(ids)
        full = runs._full_table()
        if full.num_rows > 1 and "id" in full.column_names:
            position = {run_id: i for i, run_id in enumerate(ids)}
            got = full.column("id").to_pylist()
            order = sorted(range(len(got)), key=lambda row: position.get(got[row], len(ids)))
            full = full.take(pa.array(order, pa.int64()))
        return runs.projection.select(full)


def _source(runs: Any) -> RunsSource:
    return RunsSource(
        runs_class=type(runs), connection=Connection.of(runs._api), entity=runs.entity, project=runs.project,
        filters=runs.filters, order=runs.order, per_page=runs.per_page, columns=runs.columns,
        sep=runs.sep,
    )


def _run_ids(runs: Any) -> list[str]:
    """The listing's run IDs (``limit`` applied), after checking it can be partitioned."""
    plan = runs._plan
    if plan.sort_locally:
        raise ConfigurationError(
            f"order {runs.order!r} is applied locally, which a partitioned result cannot do "
            "batch by batch: sort the Dask frame instead (ddf.sort_values(...))"
        )
    if runs.limit is not None and not plan.exact_on_server:
        raise ConfigurationError("limit with a filter evaluated locally cannot be partitioned")
    if runs.offline:
        raise ConfigurationError("offline (cache-only) runs cannot be partitioned: use to_arrow()")
    return list(list_run_ids(runs._api.execute, runs._query(), limit=runs.limit).names)


def _batches(ids: Sequence[str], batch_size: int) -> list[RunBatch]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
    return [RunBatch(i // batch_size, i, tuple(ids[i:i + batch_size])) for i in range(0, len(ids), batch_size)]


@dataclass(frozen=True)
class _BatchSchema:
    source: RunsSource

    def __call__(self, part: RunBatch) -> pa.Schema:
        return self.source(part).schema


def runs_to_dask(runs: Any, *, batch_size: int, meta: Any, dtype_backend: Any = "pyarrow") -> Any:
    """See :meth:`Runs.to_dask`."""
    import_dask()
    to_pandas = frame_converter(dtype_backend)
    source = _source(runs)
    parts = _batches(_run_ids(runs), batch_size)
    if isinstance(meta, pa.Schema):
        schema = meta
    elif meta == "first":
        schema = source(parts[0]).schema if parts else runs.projection.select(
            _empty(runs)).schema
    elif meta == "scan":
        import dask

        schemas = dask.compute(*[dask.delayed(_BatchSchema(source), pure=True)(p) for p in parts])
        schema = unify_schemas(schemas, sep=runs.sep) if parts else _empty(runs).schema
    else:
        raise ConfigurationError(f"meta must be 'first', 'scan' or a pyarrow Schema, got {meta!r}")
    divisions = None
    if parts:
        last = parts[-1]
        divisions = [p.start for p in parts] + [last.start + len(last.ids) - 1]
    return dask_frame(source, parts, schema, to_pandas=to_pandas,
                      label=f"wandb-runs-{runs.project}", divisions=divisions)


def _empty(runs: Any) -> pa.Table:
    from wandb_frames.tabular import empty_runs_table

    return runs.projection.select(empty_runs_table())


@dataclass(frozen=True)
class _RunsBatchTask:
    """Fetch one batch and write its file(s) and marker (a Dask task, or a step of a loop)."""

    source: RunsSource
    writer: BatchWriter

    def __call__(self, index: int, ids: Sequence[str]) -> dict[str, Any]:
        table = self.source(RunBatch(index, 0, tuple(ids)))
        return self.writer.write(index, len(ids), [table], None)


def runs_to_dataset(
    runs: Any,
    path: str | os.PathLike[str],
    *,
    partition_by: str | Sequence[str],
    resume: bool,
    batch_size: int,
    use_dask: bool,
    compression: str = COMPRESSION,
    row_group_size: int = ROW_GROUP_SIZE,
) -> Path:
    """See :meth:`Runs.to_parquet` (``partition_by`` given): a resumable dataset directory."""
    columns = _partition_columns(partition_by)
    source = _source(runs)
    provenance = runs._provenance()
    request = {k: v for k, v in provenance.items() if k not in ("fetched_at", "wandb_frames_version")}
    request.update(kind="runs", batch_size=batch_size, partition_by=list(columns), columns=runs.columns,
                   sep=runs.sep, limit=runs.limit)

    def list_batches() -> list[list[str]]:
        return [list(b.ids) for b in _batches(_run_ids(runs), batch_size)]

    plan, done = open_dataset(path, request, list_batches, resume=resume)
    writer = BatchWriter(str(path), columns, provenance, row_group_size, compression)
    run_batches(_RunsBatchTask(source, writer), plan, done, use_dask=use_dask)
    finish_dataset(path, plan, unify_sep=runs.sep)
    return Path(path)


def _partition_columns(partition_by: str | Sequence[str]) -> tuple[str, ...]:
    if partition_by == "batch":
        return ()
    if isinstance(partition_by, str):
        return (partition_by,)
    return tuple(partition_by)
