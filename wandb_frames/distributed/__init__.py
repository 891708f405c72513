"""Partitioned work beyond one process: Dask frames, resumable parquet datasets, keys on workers.

See ``docs/scale.md``. ``Runs.to_dask()``, ``Histories.to_dask()`` and ``LocalRuns.to_dask()``
build their collections here; ``to_parquet(dir, partition_by=...)`` writes datasets with
:mod:`~wandb_frames.distributed.dataset`. Tasks carry a key-free :class:`Connection`; workers
resolve the API key themselves (:mod:`~wandb_frames.distributed.connection`).
"""

from __future__ import annotations

from typing import Any

from wandb_frames.distributed.connection import (
    Connection,
    WorkerSession,
    forget_api_keys,
    register_api_key,
    worker_session,
)

__all__ = [
    "ApiKeyPlugin",
    "Connection",
    "WorkerSession",
    "forget_api_keys",
    "register_api_key",
    "worker_session",
]


def __getattr__(name: str) -> Any:
    if name == "ApiKeyPlugin":  # imports distributed only when asked for
        from wandb_frames.distributed.plugin import ApiKeyPlugin

        return ApiKeyPlugin
    raise AttributeError(name)
