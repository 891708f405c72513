"""Decode many ``.wandb`` files in worker processes, with the serial path's results and warnings.

Each file is decoded by :func:`~wandb_frames.offline.reader.decode_run_file`; with ``n``
workers, the files are cut into small tasks handed to a
``concurrent.futures.ProcessPoolExecutor`` of ``n - 1`` processes (the platform's default
start method) **and to the calling process**: while it waits for the next task in order, the
caller cancels the last task no worker has started and decodes it itself — so ``n`` CPUs
decode, only ``n - 1`` processes are started, and only their runs are pickled back. Outcomes
come back in file order, so ``scan_run_dir(root, workers=n)`` equals ``workers=1`` run for
run. Warnings raised in a worker (damaged files) are captured there and re-raised in the
caller, in file order; a file that cannot be read comes back as its ``ConfigurationError``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wandb_frames.errors import ConfigurationError
from wandb_frames.offline.reader import OfflineRun, decode_run_file, record_class

__all__ = ["MIN_PARALLEL_BYTES", "decode_all", "default_workers"]

#: Below this many bytes of ``.wandb`` files a folder is decoded in the calling thread:
#: starting a worker and shipping its runs back costs ~0.1-0.3 s, about what 8 MiB take
#: to decode (see docs/benchmarks.md, section 6).
MIN_PARALLEL_BYTES = 8 * 1024 * 1024


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_workers(paths: Sequence[Path]) -> int:
    """How many processes to decode ``paths`` with when the caller does not say.

    One per available CPU (at most one per file) when the files add up to at least
    :data:`MIN_PARALLEL_BYTES`; else 1 (decode in the calling thread).
    """
    if len(paths) < 2:
        return 1
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            continue
        if total >= MIN_PARALLEL_BYTES:
            return max(1, min(_cpu_count(), len(paths)))
    return 1


@dataclass(frozen=True)
class _Outcome:
    run: OfflineRun | None
    error: ConfigurationError | None
    import_error: bool
    caught: list[tuple[str, type[Warning]]]


def _decode_capturing(path: Path, include_files: bool, running_window: float, now: float | None) -> _Outcome:
    """Worker side: decode one file, keeping its warnings and its error to send back."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run: OfflineRun | None = None
        error: ConfigurationError | None = None
        try:
            run = decode_run_file(path, include_files=include_files, running_window=running_window, now=now)
        except ConfigurationError as exc:
            error = exc
    # an exception's __cause__ does not survive pickling: say here whether it was an ImportError
    import_error = error is not None and isinstance(error.__cause__, ImportError)
    return _Outcome(run, error, import_error, [(str(w.message), w.category) for w in caught])


def _decode_chunk(paths: list[Path], include_files: bool, running_window: float, now: float | None) -> list[_Outcome]:
    """One task: decode these files (in a worker, or in the caller while it waits)."""
    return [_decode_capturing(path, include_files, running_window, now) for path in paths]


def decode_all(
    paths: Sequence[Path],
    *,
    workers: int | None,
    include_files: bool,
    running_window: float,
    now: float | None,
) -> Iterator[OfflineRun | ConfigurationError]:
    """Decode ``paths`` in order: each file's run, or the ``ConfigurationError`` it raised.

    Args:
        paths: the ``.wandb`` files.
        workers: number of processes (None: :func:`default_workers`; 1: this thread).
        include_files: see :func:`decode_run_file`.
        running_window: see :func:`decode_run_file`.
        now: see :func:`decode_run_file`.

    Raises:
        ConfigurationError: ``workers`` is less than 1.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigurationError(f"workers must be a positive integer (got {workers!r})")
    count = default_workers(paths) if workers is None else min(workers, max(len(paths), 1))
    return _outcomes(paths, count, include_files, running_window, now)


def _outcomes(paths: Sequence[Path], count: int, include_files: bool, running_window: float,
              now: float | None) -> Iterator[OfflineRun | ConfigurationError]:
    if count <= 1:
        for path in paths:
            try:
                yield decode_run_file(path, include_files=include_files, running_window=running_window, now=now)
            except ConfigurationError as exc:
                yield exc
        return
    size = max(1, len(paths) // (count * 32))  # small tasks: the last ones end close together
    chunks = [list(paths[i:i + size]) for i in range(0, len(paths), size)]
    record_class()  # import W&B's messages once here: forked workers inherit them (~0.4 s each)
    pool = ProcessPoolExecutor(max_workers=count - 1)
    try:
        futures = [pool.submit(_decode_chunk, chunk, include_files, running_window, now) for chunk in chunks]
        mine: dict[int, list[_Outcome]] = {}
        last = len(futures) - 1  # the caller takes tasks from the end while it waits
        for index, future in enumerate(futures):
            while index not in mine and not future.done() and last > index:
                if futures[last].cancel():  # not started by a worker: decode it here
                    mine[last] = _decode_chunk(chunks[last], include_files, running_window, now)
                    last -= 1
                else:  # started: the workers take tasks in order, so they have started all up to it
                    last = index
            outcomes = mine.pop(index) if index in mine else future.result()
            for outcome in outcomes:
                for message, category in outcome.caught:
                    warnings.warn(message, category, stacklevel=3)
                if outcome.error is not None:
                    if outcome.import_error:
                        raise ConfigurationError(str(outcome.error)) from ImportError(str(outcome.error))
                    yield outcome.error
                else:
                    assert outcome.run is not None
                    yield outcome.run
    finally:  # a caller that stops early (an error, Ctrl-C) does not wait for the files left
        pool.shutdown(wait=True, cancel_futures=True)
