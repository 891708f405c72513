"""Worker results through shared-memory batch files: private, removed on success and on every failure."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wandb_frames.errors import CorruptRecordWarning, IncompleteResultError
from wandb_frames.offline import parallel, spool
from wandb_frames.offline.folders import run_files, scan_run_dir
from wandb_frames.offline.parallel import _decode_capturing, decode_all
from wandb_frames.offline.spool import Spool

from test_parallel import _NOW, _write_run

_SECRET = "wfsecret-0123456789abcdef0123456789abcdef01234567"
_CALLER = os.getpid()
_SEEN: list[tuple[int, int, bytes]] = []  # (folder mode, file mode, bytes) of every batch the caller took
_real_take = Spool.take

fork_only = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                               reason="the fault is injected into forked workers")


@pytest.fixture()
def shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The spool folders go here instead of /dev/shm, so that what is left can be listed."""
    root = tmp_path / "shm"
    root.mkdir()
    monkeypatch.setattr(spool, "SHM_ROOT", root)
    return root


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "wandb"
    for i in range(12):
        _write_run(root, f"s{i:02d}", 20 + i, start=1.7e9 + i)
    return root


def _spying_take(self: Spool, name: str) -> Any:
    path = self.directory / name
    _SEEN.append((stat.S_IMODE(self.directory.stat().st_mode), stat.S_IMODE(path.stat().st_mode), path.read_bytes()))
    return _real_take(self, name)


def _scan(root: Path, workers: int) -> list[Any]:
    return [(r.path, r.entity, r.project, r.record) for r in scan_run_dir(root, include_files=False, now=_NOW,
                                                                           workers=workers)]


def test_batch_files_are_private_hold_the_runs_and_are_removed(runs: Path, shm: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", _SECRET)
    monkeypatch.setenv("WANDB_FRAMES_API_KEY", _SECRET)
    monkeypatch.setattr(Spool, "take", _spying_take)
    _SEEN.clear()
    serial = _scan(runs, 1)
    assert _scan(runs, 2) == serial
    assert _SEEN, "the worker sent its runs through batch files"
    assert all(folder == 0o700 and file == 0o600 for folder, file, _ in _SEEN)
    assert any(b"s00" in data for *_, data in _SEEN)  # the files do hold the decoded runs
    assert not any(_SECRET.encode() in data for *_, data in _SEEN)
    assert list(shm.iterdir()) == []


def test_no_folder_is_left_after_many_reads(runs: Path, shm: Path) -> None:
    for workers in (2, 3, 5):
        _scan(runs, workers)
    assert list(shm.iterdir()) == []
    assert multiprocessing.active_children() == []


def _failing_in_worker(path: Path, *args: Any) -> Any:
    if os.getpid() != _CALLER and path.parent.name.endswith("s02"):
        raise RuntimeError(f"worker failed on {path.name}")
    return _decode_capturing(path, *args)


def _dying_in_worker(path: Path, *args: Any) -> Any:
    if os.getpid() != _CALLER and path.parent.name.endswith("s02"):
        os._exit(3)
    return _decode_capturing(path, *args)


def _unpicklable_error_in_worker(path: Path, *args: Any) -> Any:
    if os.getpid() != _CALLER and path.parent.name.endswith("s02"):
        error = RuntimeError("cannot travel")
        error.payload = lambda: None  # type: ignore[attr-defined]
        raise error
    return _decode_capturing(path, *args)


@fork_only
@pytest.mark.parametrize(
    ("fault", "workers", "error", "match"),
    [
        (_failing_in_worker, 2, RuntimeError, "worker failed on run-s02.wandb"),  # raised in the caller
        (_dying_in_worker, 2, IncompleteResultError, "exit code 3"),
        (_unpicklable_error_in_worker, 3, IncompleteResultError, "RuntimeError: cannot travel"),  # still reaches it
    ],
    ids=["worker error", "worker dies", "unpicklable error"],
)
def test_a_failing_worker_reaches_the_caller_and_the_files_are_removed(
    runs: Path, shm: Path, monkeypatch: pytest.MonkeyPatch, fault: Any, workers: int, error: type[Exception],
    match: str,
) -> None:
    monkeypatch.setattr(parallel, "_decode_capturing", fault)
    with pytest.raises(error, match=match):
        _scan(runs, workers)
    assert list(shm.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_a_caller_that_stops_early_leaves_nothing(runs: Path, shm: Path) -> None:
    outcomes = decode_all(run_files(runs), workers=2, include_files=False, running_window=300.0, now=_NOW)
    first = next(outcomes)
    assert not isinstance(first, Exception) and first.record["id"] == "s00"
    assert list(shm.iterdir())  # the read is under way
    outcomes.close()
    assert list(shm.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_spool_take_refuses_other_paths_and_reports_missing_files(shm: Path) -> None:
    box = Spool.create()
    try:
        assert box.directory.parent == shm
        assert stat.S_IMODE(box.directory.stat().st_mode) == 0o700
        assert box.take(box.write("0-0", [1, "two"])) == [1, "two"]
        assert list(box.directory.iterdir()) == []  # deleted once loaded
        for name in ("../x", "", ".hidden", "a/b"):
            with pytest.raises(IncompleteResultError, match="not a batch file name"):
                box.take(name)
        with pytest.raises(IncompleteResultError, match="could not be read"):
            box.take("0-1")
        box.write("0-2", b"left behind")
    finally:
        box.remove()
    assert list(shm.iterdir()) == []


def test_without_dev_shm_the_temporary_folder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "SHM_ROOT", tmp_path / "missing")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    box = Spool.create()
    try:
        assert box.directory.parent == tmp_path
    finally:
        box.remove()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["run", "junk", "torn"]), min_size=2, max_size=14), st.integers(2, 4))
def test_any_folder_and_worker_count_give_the_serial_result(tmp_path_factory: pytest.TempPathFactory,
                                                            kinds: list[str], workers: int) -> None:
    root = tmp_path_factory.mktemp("wandb")
    for i, kind in enumerate(kinds):
        path = _write_run(root, f"h{i:02d}", 3 + 7 * i)
        if kind == "junk":
            path.write_bytes(b"not a wandb log")
        elif kind == "torn":
            path.write_bytes(path.read_bytes()[:-25])

    def scan(n: int) -> tuple[list[Any], list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = _scan(root, n)
        return found, [f"{w.category.__name__}: {w.message}" for w in caught]

    serial, serial_warnings = scan(1)
    assert scan(workers) == (serial, serial_warnings)
    assert all(issubclass(CorruptRecordWarning, Warning) for _ in serial_warnings)


def _full_shm_in_worker(self: Spool, name: str, payload: Any) -> str:
    if os.getpid() != _CALLER:
        raise OSError(28, "No space left on device")
    return _real_write(self, name, payload)


_real_write = Spool.write


@fork_only
def test_a_full_dev_shm_sends_the_runs_through_the_pipe(runs: Path, shm: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    serial = _scan(runs, 1)
    monkeypatch.setattr(Spool, "write", _full_shm_in_worker)
    monkeypatch.setattr(Spool, "take", _spying_take)
    _SEEN.clear()
    assert _scan(runs, 2) == serial
    assert _SEEN == []  # no batch file was read: every batch came through the pipe
    assert list(shm.iterdir()) == []


_real_fdopen = os.fdopen


class _FullDevice:
    def __init__(self, fd: int, mode: str) -> None:
        self.fh = _real_fdopen(fd, mode)

    def __enter__(self) -> _FullDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[:10])
        self.fh.flush()
        raise OSError(28, "No space left on device")


def test_a_batch_that_cannot_be_written_leaves_no_partial_file(shm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Spool.create()
    try:
        with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
            box.write("0-0", [lambda: None])  # cannot be pickled: nothing is created
        assert list(box.directory.iterdir()) == []
        with monkeypatch.context() as patch:
            patch.setattr(spool.os, "fdopen", _FullDevice)
            with pytest.raises(OSError, match="No space left"):
                box.write("0-1", [1])
        assert list(box.directory.iterdir()) == []  # the part written was removed
        assert box.take(box.write("0-2", [1])) == [1]
        box.write("0-3", [1])
        with pytest.raises(FileExistsError):  # never overwrites
            box.write("0-3", [2])
    finally:
        box.remove()
