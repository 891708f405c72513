"""Read offline W&B runs (``wandb/offline-run-*/run-*.wandb``) into run records.

The message definitions come from the ``wandb`` package (``wandb-frames[offline]``); the
framing is ours (:mod:`wandb_frames.offline.framing`). Damage never loses the good part:
a torn tail, a CRC mismatch or an unparsable record is skipped with a
:class:`~wandb_frames.errors.CorruptRecordWarning` and everything before (and, for CRC
damage, after) it is kept.
"""

from __future__ import annotations

import importlib
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_frames.errors import ConfigurationError, CorruptRecordWarning
from wandb_frames.offline.framing import FrameProblem, NotAWandbFileError, read_spans
from wandb_frames.offline.records import RunFold
from wandb_frames.offline.segments import fold_frames
from wandb_frames.testing.records import RunRecord

__all__ = ["OfflineRun", "decode_run_file", "read_run_file", "record_class"]

_RUN_FILE = re.compile(r"run-(?P<id>[^/\\]+)\.wandb$")
_MAX_FILE_BYTES = 10 * 1024 * 1024


def record_class() -> Any:
    """The ``wandb_internal_pb2.Record`` message class from the installed ``wandb`` package.

    Raises:
        ConfigurationError: ``wandb`` (or a protobuf it supports) is not installed.
    """
    try:
        module = importlib.import_module("wandb.proto.wandb_internal_pb2")
    except ImportError as exc:
        raise ConfigurationError(
            "reading offline .wandb files needs the W&B message definitions: "
            "pip install 'wandb-frames[offline]' (installs wandb)"
        ) from exc
    return module.Record


@dataclass(frozen=True)
class OfflineRun:
    """One run read from disk: its record plus where it came from.

    Attributes:
        path: the ``.wandb`` file.
        entity: the entity the run was started with ("" when offline without one).
        project: the project it was started with ("uncategorized" when none).
        record: the run record (the seed shape of :mod:`wandb_frames.testing.records`).
    """

    path: Path
    entity: str
    project: str
    record: RunRecord


def _warn(path: Path, problems: list[FrameProblem], extra: list[str]) -> None:
    if not problems and not extra:
        return
    parts = [f"{p.kind} at byte {p.offset}: {p.message}" for p in problems[:5]] + extra[:5]
    more = len(problems) + len(extra) - len(parts)
    tail = f" (+{more} more)" if more > 0 else ""
    warnings.warn(
        f"{path}: damaged W&B log, kept every whole record before/around the damage; "
        + "; ".join(parts) + tail,
        CorruptRecordWarning,
        stacklevel=3,
    )


def _attach_files(record: RunRecord, run_dir: Path) -> None:
    files_dir = run_dir / "files"
    if not files_dir.is_dir():
        return
    files = record.setdefault("files", {})
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and path.stat().st_size <= _MAX_FILE_BYTES:
            data = path.read_bytes()
            name = path.relative_to(files_dir).as_posix()
            try:
                files[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                files[name] = data


def _read(path: Path, *, include_files: bool, running_window: float, now: float | None,
          bulk: bool = True) -> OfflineRun:
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigurationError(f"cannot read offline run file {path}: {exc}") from exc
    try:
        spans = read_spans(data)
    except NotAWandbFileError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    match = _RUN_FILE.search(path.name)
    fold = RunFold(match.group("id") if match else path.stem)
    bad = fold_frames(fold, spans, data, parse=record_class().FromString, bulk=bulk)
    _warn(path, spans.problems, bad)
    idle = (time.time() if now is None else now) - mtime
    record = fold.result(idle_seconds=idle, running_window=running_window)
    if include_files:
        _attach_files(record, path.parent)
    return OfflineRun(path=path, entity=fold.entity, project=fold.project or "uncategorized", record=record)


def decode_run_file(
    path: str | os.PathLike[str],
    *,
    include_files: bool = False,
    running_window: float = 300.0,
    now: float | None = None,
) -> OfflineRun:
    """Decode one ``run-<id>.wandb`` file: the unit of work of every parallel reader.

    A plain module-level function of picklable arguments returning a picklable
    :class:`OfflineRun`, so a process pool or ``dask.dataframe.from_map`` can call it on
    any worker; :func:`scan_run_dir` with ``workers`` > 1 maps it over a folder's files.
    Unlike :func:`read_run_file` it keeps the run's project and entity.

    Args:
        path: the ``.wandb`` file.
        include_files: attach the files under the run's ``files/`` folder (≤ 10 MiB each).
        running_window: see :func:`read_run_file`.
        now: see :func:`read_run_file`.

    Returns:
        The run, its file, and the entity and project it was started in.

    Raises:
        ConfigurationError: the file cannot be read, is not a W&B log, or ``wandb`` is missing.

    Warns:
        CorruptRecordWarning: a torn tail, CRC mismatch or unparsable record was skipped.
    """
    return _read(Path(path), include_files=include_files, running_window=running_window, now=now)


def read_run_file(
    path: str | os.PathLike[str],
    *,
    include_files: bool = True,
    running_window: float = 300.0,
    now: float | None = None,
) -> RunRecord:
    """Read one ``run-<id>.wandb`` file into a run record.

    Args:
        path: the ``.wandb`` file.
        include_files: also attach the files under the run's ``files/`` folder (≤ 10 MiB each).
        running_window: a run without an exit record whose file changed less than this many
            seconds ago is ``running``; older ones are ``crashed``.
        now: the current time as a POSIX timestamp (default: ``time.time()``), for tests.

    Returns:
        The run record (see :mod:`wandb_frames.offline.records` for the rules).

    Raises:
        ConfigurationError: the file cannot be read, is not a W&B log, or ``wandb`` is missing.

    Warns:
        CorruptRecordWarning: a torn tail, CRC mismatch or unparsable record was skipped.
    """
    return _read(Path(path), include_files=include_files, running_window=running_window, now=now).record
