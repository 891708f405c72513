"""Read every offline run under a ``wandb`` folder: the files found, decoded (in parallel when
it pays, :mod:`~wandb_frames.offline.parallel`), one run per ID."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from wandb_frames.errors import ConfigurationError, CorruptRecordWarning
from wandb_frames.offline.parallel import decode_all
from wandb_frames.offline.reader import OfflineRun
from wandb_frames.testing.records import RunRecord

__all__ = ["read_run_dir", "run_files", "scan_run_dir"]

_PATTERNS = ("offline-run-*/run-*.wandb", "run-*/run-*.wandb")


def run_files(root: Path) -> list[Path]:
    """The ``run-*.wandb`` files under ``root`` (a ``wandb`` folder, the folder holding it, one run
    folder or one file), sorted."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ConfigurationError(f"offline runs folder not found: {root}")
    bases = [root]
    if (root / "wandb").is_dir():  # accept the folder that *contains* wandb/
        bases.append(root / "wandb")
    found = {p.resolve(): p for base in bases for pat in _PATTERNS for p in base.glob(pat)}
    if not found and root.name.startswith(("offline-run-", "run-")):
        found = {p.resolve(): p for p in root.glob("run-*.wandb")}
    return sorted(found.values())


def scan_run_dir(
    root: str | os.PathLike[str],
    *,
    include_files: bool = True,
    running_window: float = 300.0,
    now: float | None = None,
    workers: int | None = None,
) -> list[OfflineRun]:
    """Read every run under a ``wandb`` folder, with the project each was started in.

    Scans ``offline-run-*/run-*.wandb`` and ``run-*/run-*.wandb`` under ``root`` (or under
    ``root/wandb``; ``root`` may also be one run folder or one file). Files that are not W&B
    logs are skipped with a :class:`CorruptRecordWarning`. When one run ID appears twice
    (a run resumed offline), the file written last wins.

    Args:
        root: the folder (or file).
        include_files: see :func:`read_run_file`.
        running_window: see :func:`read_run_file`.
        now: see :func:`read_run_file`.
        workers: decode files in this many processes (1: in this thread). Default: one per
            CPU when the files add up to enough work to pay for starting processes
            (:func:`~wandb_frames.offline.parallel.default_workers`). The result, its order
            and the warnings are the same whatever the number.

    Raises:
        ConfigurationError: ``root`` does not exist, ``wandb`` is missing, or ``workers`` < 1.
    """
    by_id: dict[tuple[str, str, str], OfflineRun] = {}
    paths = run_files(Path(root))
    for path, outcome in zip(paths, decode_all(paths, workers=workers, include_files=include_files,
                                                running_window=running_window, now=now), strict=True):
        if isinstance(outcome, ConfigurationError):
            if isinstance(outcome.__cause__, ImportError):
                raise outcome
            warnings.warn(f"skipped {path}: {outcome}", CorruptRecordWarning, stacklevel=2)
            continue
        by_id[(outcome.entity, outcome.project, outcome.record["id"])] = outcome
    return list(by_id.values())


def read_run_dir(
    root: str | os.PathLike[str],
    *,
    include_files: bool = True,
    running_window: float = 300.0,
    now: float | None = None,
    workers: int | None = None,
) -> list[RunRecord]:
    """Read every run under a ``wandb`` folder into run records (see :func:`scan_run_dir`)."""
    return [
        r.record
        for r in scan_run_dir(root, include_files=include_files, running_window=running_window, now=now,
                              workers=workers)
    ]
