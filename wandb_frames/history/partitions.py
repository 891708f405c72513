"""``Histories`` cut into batches of runs: Dask partitions and partitioned parquet datasets.

A ``histories.HistorySource`` is the picklable, key-free description of a ``Histories`` (server,
entity/project, keys, sampling, steps); a worker turns it back into a ``Histories`` over its
own session (:func:`~wandb_frames.distributed.connection.worker_session`) for one batch of
run IDs, so every partition is fetched by the code of ``Histories.to_arrow()`` (parquet
export, live tail, paged fallback; the same retries). The attached run columns travel with
each batch as Arrow arrays of the whole result's types.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from wandb_frames.export import COMPRESSION
from wandb_frames.distributed.dataset import (
    ROW_GROUP_SIZE,
    BatchWriter,
    finish_dataset,
    open_dataset,
    run_batches,
)
from wandb_frames.distributed.frames import dask_frame, import_dask
from wandb_frames.errors import ConfigurationError
from wandb_frames.distributed.frames import frame_converter

__all__ = ["HistoryBatch", "histories_to_dask", "histories_to_dataset", "wide_schema"]


@dataclass(frozen=True, slots=True)
class HistoryBatch:
    """One partition: the ``index``-th batch of runs, with their attached run-column values."""

    index: int
    ids: tuple[str, ...]
    columns: Mapping[str, pa.Array]


@dataclass(frozen=True)
class _LongBatch:
    source: Any  # a histories.HistorySource

    def __call__(self, part: HistoryBatch) -> pa.Table:
        return self.source.histories(part.ids, part.columns).to_arrow()


@dataclass(frozen=True)
class _WideBatch:
    source: Any  # a histories.HistorySource

    def __call__(self, part: HistoryBatch) -> pa.Table:
        return self.source.histories(part.ids, part.columns).to_wide_arrow()


def _source(histories: Any) -> Any:
    if histories.source is None:
        raise ConfigurationError(
            "these histories were not made by Runs.history_frames(...), so a worker could not "
            "fetch them again: partitioning needs api.runs(...).history_frames(...)"
        )
    return histories.source


def _batches(histories: Any, batch_size: int) -> list[HistoryBatch]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
    ids = histories.run_ids
    arrays = histories._columns
    return [
        HistoryBatch(i // batch_size, tuple(ids[i:i + batch_size]),
                     {name: arr.slice(i, batch_size) for name, arr in arrays.items()})
        for i in range(0, len(ids), batch_size)
    ]


def wide_schema(histories: Any, keys: Sequence[str]) -> pa.Schema:
    """The wide table's schema when the metrics are ``keys`` (sorted, as ``long_to_wide`` puts them)."""
    index = "_timestamp" if histories.stream == "system" else "_step"
    fields = [pa.field("run_id", pa.string()),
              pa.field(index, pa.int64() if index == "_step" else pa.float64())]
    fields += [pa.field(n, pa.float64()) for n in ("_timestamp", "_runtime") if n != index]
    fields += [pa.field(k, pa.float64()) for k in sorted(set(keys))]
    fields += [pa.field(name, arr.type) for name, arr in histories._columns.items()]
    return pa.schema(fields)


def histories_to_dask(histories: Any, *, batch_size: int, format: Literal["long", "wide"], dtype_backend: Any) -> Any:
    """See :meth:`Histories.to_dask`."""
    import_dask()
    source = _source(histories)
    parts = _batches(histories, batch_size)
    long_to_pandas = frame_converter(dtype_backend)
    if format == "long":
        return dask_frame(_LongBatch(source), parts, histories.schema, to_pandas=long_to_pandas,
                          label=f"wandb-history-{source.project}", conform=False)
    if format != "wide":
        raise ConfigurationError(f"format must be 'long' or 'wide' (got {format!r})")
    if source.keys is None:
        raise ConfigurationError(
            "a wide Dask frame needs its metric columns before any fetch: pass keys=[...] to history_frames()"
        )
    return dask_frame(_WideBatch(source), parts, wide_schema(histories, source.keys),
                      to_pandas=long_to_pandas, label=f"wandb-history-wide-{source.project}",
                      conform=False)


@dataclass(frozen=True)
class _HistoryBatchTask:
    """Fetch one batch's histories run by run and stream them into its file(s)."""

    source: Any  # a histories.HistorySource
    writer: BatchWriter
    schema: pa.Schema
    columns: Mapping[str, pa.Array]
    batch_size: int

    def __call__(self, index: int, ids: Sequence[str]) -> dict[str, Any]:
        start = index * self.batch_size
        arrays = {name: arr.slice(start, len(ids)) for name, arr in self.columns.items()}
        tables: Iterator[pa.Table] = self.source.histories(ids, arrays)._iter_tables()
        return self.writer.write(index, len(ids), tables, self.schema)


def histories_to_dataset(
    histories: Any,
    path: str | os.PathLike[str],
    *,
    partition_by: str | Sequence[str],
    resume: bool,
    batch_size: int,
    use_dask: bool,
    metadata: Mapping[str, Any] | None = None,
    compression: str = COMPRESSION,
    row_group_size: int = ROW_GROUP_SIZE,
) -> Path:
    """See :meth:`Histories.to_parquet` (``partition_by`` given): a resumable dataset directory."""
    source = _source(histories)
    columns: tuple[str, ...] = () if partition_by == "batch" else (
        (partition_by,) if isinstance(partition_by, str) else tuple(partition_by))
    provenance = {**histories.provenance, "stream": histories.stream, "format": "long", **(metadata or {})}
    request = {k: v for k, v in provenance.items() if k not in ("fetched_at", "wandb_frames_version")}
    request.update(kind="histories", batch_size=batch_size, partition_by=list(columns),
                   run_ids=len(histories.run_ids))
    batches = _batches(histories, batch_size)
    plan, done = open_dataset(path, request, lambda: [list(b.ids) for b in batches], resume=resume)
    if [list(b.ids) for b in batches] != plan.batches:
        raise ConfigurationError(f"cannot resume {path}: it was started for other runs")
    writer = BatchWriter(str(path), columns, provenance, row_group_size, compression)
    task = _HistoryBatchTask(source, writer, histories.schema, histories._columns, batch_size)
    run_batches(task, plan, done, use_dask=use_dask)
    finish_dataset(path, plan, unify_sep=None)
    return Path(path)
