"""Offline W&B runs (``wandb/offline-run-*/run-*.wandb``) as run records and frames.

See ``docs/offline.md``. Reading needs ``pip install 'wandb-frames[offline]'`` (the
``wandb`` package provides the protobuf message definitions).
"""

from __future__ import annotations

from wandb_frames.offline.local import LocalRuns, add_offline_runs, local_runs, record_to_decoded_run
from wandb_frames.offline.folders import read_run_dir, scan_run_dir
from wandb_frames.offline.reader import OfflineRun, decode_run_file, read_run_file

__all__ = [
    "LocalRuns",
    "OfflineRun",
    "add_offline_runs",
    "decode_run_file",
    "local_runs",
    "read_run_dir",
    "read_run_file",
    "record_to_decoded_run",
    "scan_run_dir",
]
