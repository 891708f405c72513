"""Metric histories of W&B runs as long and wide Arrow tables (see ``docs/history.md``).

Entry points for the client (``Run.history``, ``Run.scan_history``, ``Runs.histories``):
:func:`fetch_run_history`, :func:`scan_history_rows` and :func:`fetch_histories`, each taking an
:class:`Executor` (GraphQL) and a :data:`Getter` (parquet downloads).
"""

from __future__ import annotations

from wandb_frames.history.fetch import (
    Executor,
    Getter,
    Stream,
    fetch_run_history,
    fetch_run_long,
    parquet_getter,
    scan_history_rows,
)
from wandb_frames.history.frames import LONG_SCHEMA, LongPart, dedup_long, long_to_wide, wide_to_long
from wandb_frames.history.histories import Histories, fetch_histories
from wandb_frames.history.sampling import downsample_long

__all__ = [
    "LONG_SCHEMA",
    "Executor",
    "Getter",
    "Histories",
    "LongPart",
    "Stream",
    "dedup_long",
    "downsample_long",
    "fetch_histories",
    "fetch_run_history",
    "fetch_run_long",
    "long_to_wide",
    "parquet_getter",
    "scan_history_rows",
    "wide_to_long",
]
