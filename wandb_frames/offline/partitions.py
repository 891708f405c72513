"""``LocalRuns`` cut into batches of ``.wandb`` files: one Dask partition per batch.

A partition carries only file paths and read options; the worker that computes it decodes
those files itself (:func:`~wandb_frames.offline.reader.decode_run_file`, the unit of the
parallel readers) and builds the
frame with the same ``LocalRuns`` code, so the graph stays small however large the runs are.
The files must be readable by the workers (a shared filesystem).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from wandb_frames.distributed.frames import dask_frame, frame_converter, import_dask
from wandb_frames.errors import ConfigurationError
from wandb_frames.history.frames import LONG_SCHEMA
from wandb_frames.offline.reader import decode_run_file

__all__ = ["OfflineBatch", "OfflineSource", "local_runs_to_dask"]


@dataclass(frozen=True, slots=True)
class OfflineBatch:
    """One partition: the ``.wandb`` files of a batch of runs, in output order."""

    index: int
    paths: tuple[str, ...]


@dataclass(frozen=True)
class OfflineSource:
    """How a worker reads and frames a batch of offline runs (picklable).

    ``local_class`` is :class:`~wandb_frames.offline.local.LocalRuns` (pickled by reference;
    held here so that this module does not import ``local``, which imports it).
    """

    local_class: Any
    kind: Literal["runs", "history"]
    entity: str | None
    sep: str
    include_files: bool
    running_window: float
    now: float
    keys: tuple[str, ...] | None = None
    stream: str = "default"

    def __call__(self, part: OfflineBatch) -> pa.Table:
        runs = [decode_run_file(p, include_files=self.include_files, running_window=self.running_window,
                                now=self.now) for p in part.paths]
        local = self.local_class(runs, order=None, entity=self.entity, sep=self.sep)
        if self.kind == "runs":
            return local.to_arrow()
        return local.histories(list(self.keys) if self.keys is not None else None, stream=self.stream)


def local_runs_to_dask(
    local: Any,
    *,
    kind: Literal["runs", "history"],
    batch_size: int,
    keys: Sequence[str] | None,
    stream: str,
    now: float,
    dtype_backend: Any = "pyarrow",
) -> Any:
    """See :meth:`LocalRuns.to_dask`."""
    import_dask()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
    if kind not in ("runs", "history"):
        raise ConfigurationError(f"kind must be 'runs' or 'history' (got {kind!r})")
    paths = [str(r.path) for r in local.runs]
    parts = [OfflineBatch(i // batch_size, tuple(paths[i:i + batch_size])) for i in range(0, len(paths), batch_size)]
    source = OfflineSource(type(local), kind, local._entity, local._sep, local.include_files, local.running_window, now,
                           tuple(keys) if keys is not None else None, stream)
    to_pandas = frame_converter(dtype_backend)
    if kind == "runs":
        return dask_frame(source, parts, local.to_arrow().schema, to_pandas=to_pandas,
                          label="wandb-offline-runs")
    return dask_frame(source, parts, LONG_SCHEMA, to_pandas=to_pandas,
                      label="wandb-offline-history", conform=False)
