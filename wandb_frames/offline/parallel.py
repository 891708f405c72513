"""Decode many ``.wandb`` files in worker processes, with the serial path's results and warnings.

Each file is decoded by :func:`~wandb_frames.offline.reader.decode_run_file`. With ``n``
workers, ``n - 1`` processes are started (the platform's default start method) and **the
calling process decodes too**: the workers claim files one at a time from the front of the
list, the caller from the back, through two shared counters, until they meet — so ``n`` CPUs
decode, every one busy until at most one file before the end, and only the workers' runs
travel between processes. A worker sends each batch of decoded runs through a file in shared
memory (:mod:`~wandb_frames.offline.spool`) and only its name through its pipe; the caller
loads those batches between its own files. Outcomes come back in file order, so
``scan_run_dir(root, workers=n)`` equals ``workers=1`` run for run. Warnings raised in a
worker (damaged files) are captured there and re-raised in the caller, in file order; a file
that cannot be read comes back as its ``ConfigurationError``; any other error of a worker is
raised in the caller, and a worker that dies raises
:class:`~wandb_frames.errors.IncompleteResultError`. The batch files are removed however the
read ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import warnings
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from wandb_frames.errors import ConfigurationError, IncompleteResultError
from wandb_frames.offline.reader import OfflineRun, decode_run_file, record_class
from wandb_frames.offline.spool import Spool

__all__ = ["MIN_PARALLEL_BYTES", "decode_all", "default_workers"]

#: Below this many bytes of ``.wandb`` files a folder is decoded in the calling thread:
#: starting a worker and shipping its runs back costs ~0.1-0.3 s, about what 8 MiB take
#: to decode (see docs/benchmarks.md, section 6).
MIN_PARALLEL_BYTES = 8 * 1024 * 1024

#: A worker sends its decoded runs in batches of this many files (~0.5 MiB for 1,000 steps).
_BATCH_FILES = 8


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
    with contextlib.closing(_in_order(paths, count, include_files, running_window, now)) as ordered:
        for outcome in ordered:
            for message, category in outcome.caught:
                warnings.warn(message, category, stacklevel=3)
            if outcome.error is not None:
                if outcome.import_error:
                    raise ConfigurationError(str(outcome.error)) from ImportError(str(outcome.error))
                yield outcome.error
            else:
                assert outcome.run is not None
                yield outcome.run


def _claim(claims: Any, *, front: bool) -> int | None:
    """The next file to decode: from the front (workers) or the back (the caller); None when none is left."""
    with claims.get_lock():
        raw = claims.get_obj()
        first, last = raw[0], raw[1]
        if first > last:
            return None
        if front:
            raw[0] = first + 1
            return int(first)
        raw[1] = last - 1
        return int(last)


def _work(paths: Sequence[Path], claims: Any, sender: Connection, spool: Spool, worker: int,
          include_files: bool, running_window: float, now: float | None) -> None:
    """A worker process: decode files claimed from the front; send batches, then ``done``."""
    try:
        batch: list[tuple[int, _Outcome]] = []
        sent = 0
        while (index := _claim(claims, front=True)) is not None:
            batch.append((index, _decode_capturing(paths[index], include_files, running_window, now)))
            if len(batch) >= _BATCH_FILES:
                _send(sender, spool, f"{worker}-{sent}", batch)
                batch, sent = [], sent + 1
        if batch:
            _send(sender, spool, f"{worker}-{sent}", batch)
        sender.send(("done", None))
    except BaseException as exc:  # noqa: BLE001 - any failure goes to the caller, which raises it
        with contextlib.suppress(OSError):  # OSError: the caller is gone
            try:
                sender.send(("error", exc))
            except OSError:
                raise
            except Exception:  # noqa: BLE001 - the error itself cannot be pickled
                sender.send(("error", IncompleteResultError(f"a worker process failed: {type(exc).__name__}: {exc}")))
    finally:
        sender.close()


def _send(sender: Connection, spool: Spool, name: str, batch: list[tuple[int, _Outcome]]) -> None:
    """Send a batch as a spool file, or through the pipe when the file cannot be written."""
    try:
        spool.write(name, batch)
    except OSError:  # a full /dev/shm: slower (the pipe waits for the caller), but the same runs
        sender.send(("runs", batch))
    else:
        sender.send(("batch", name))


def _in_order(paths: Sequence[Path], count: int, include_files: bool, running_window: float,
              now: float | None) -> Generator[_Outcome, None, None]:
    """Every file's outcome in file order, decoded by ``count - 1`` workers and this process."""
    record_class()  # import W&B's messages once here: forked workers inherit them (~0.4 s each)
    context = multiprocessing.get_context()
    claims = context.Array("q", [0, len(paths) - 1])  # the next file from the front, from the back
    spool = Spool.create()
    running: dict[Connection, Any] = {}  # a worker's pipe -> its process
    try:
        for worker in range(count - 1):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_work, args=(paths, claims, sender, spool, worker, include_files, running_window, now),
                name=f"wandb-frames-offline-{worker}", daemon=True,
            )
            process.start()
            sender.close()
            running[receiver] = process
        done: dict[int, _Outcome] = {}
        next_index = 0
        while (index := _claim(claims, front=False)) is not None:
            _collect(running, spool, done, timeout=0)
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
            done[index] = _decode_capturing(paths[index], include_files, running_window, now)
        while running:
            _collect(running, spool, done, timeout=None)
        while next_index in done:
            yield done.pop(next_index)
            next_index += 1
        if next_index != len(paths):  # every worker said done: cannot happen
            raise IncompleteResultError(f"decoded {next_index} of {len(paths)} offline run files")
    finally:  # a caller that stops early (an error, Ctrl-C): no new files; wait for the current ones
        _stop(claims, running)
        spool.remove()


def _collect(running: dict[Connection, Any], spool: Spool, done: dict[int, _Outcome],
             timeout: float | None) -> None:
    """Take the workers' messages that are ready (``timeout=None``: wait for at least one)."""
    ready = [r for r in running if r.poll()] if timeout == 0 else wait(list(running), timeout)
    for receiver in ready:  # (one poll per pipe: cheaper than a selector, between every two files)
        assert isinstance(receiver, Connection)
        try:
            kind, value = receiver.recv()
        except EOFError:
            process = running.pop(receiver)
            process.join()
            receiver.close()
            raise IncompleteResultError(
                f"a worker process decoding offline runs ended early (exit code {process.exitcode})"
            ) from None
        if kind == "batch":
            done.update(spool.take(value))
        elif kind == "runs":
            done.update(value)
        elif kind == "done":
            process = running.pop(receiver)
            receiver.close()
            process.join()
        else:
            raise value


def _stop(claims: Any, running: dict[Connection, Any]) -> None:
    """Let no worker claim another file, read their pipes to the end and wait for them."""
    with claims.get_lock():
        claims[0], claims[1] = 1, 0
    for receiver, process in running.items():
        with contextlib.suppress(EOFError, OSError):
            while True:
                receiver.recv()  # unread names (their files go with the folder); EOF when it exits
        receiver.close()
        process.join()
    running.clear()
