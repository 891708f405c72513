"""Decoding a folder in worker processes gives the serial result: same runs, order, warnings."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest

from wandb_frames.errors import ConfigurationError, CorruptRecordWarning
from wandb_frames.offline import decode_run_file, local_runs
from wandb_frames.offline.framing import frame_records
from wandb_frames.offline.parallel import MIN_PARALLEL_BYTES, _decode_capturing, default_workers
from wandb_frames.offline.folders import scan_run_dir
from wandb_frames.offline.reader import record_class

_NOW = 2e9


def _write_run(root: Path, run_id: str, steps: int, *, project: str = "par", start: float = 1.7e9) -> Path:
    record = record_class()
    r = record()
    r.run.run_id, r.run.project, r.run.display_name = run_id, project, f"name-{run_id}"
    r.run.start_time.FromNanoseconds(int(start * 1e9))
    r.run.config.update.add(key="lr", value_json=json.dumps(0.01))
    out = [r.SerializeToString()]
    for s in range(steps):
        summ, hist = record(), record()
        for key, value in {"loss": 1 / (s + 1), "_step": s, "_timestamp": start + s}.items():
            summ.summary.update.add(key=key, value_json=json.dumps(value))
            hist.history.item.add(key=key, value_json=json.dumps(value))
        out += [summ.SerializeToString(), hist.SerializeToString()]
    ex = record()
    ex.exit.exit_code = 0
    out.append(ex.SerializeToString())
    run_dir = root / f"offline-run-20260101_000000-{run_id}"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"run-{run_id}.wandb"
    path.write_bytes(frame_records(out))
    return path


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "wandb"
    for i in range(7):
        _write_run(root, f"p{i}", 30 + i, start=1.7e9 + i)
    torn = _write_run(root, "torn", 400)
    torn.write_bytes(torn.read_bytes()[:-300])  # a killed run: kept up to the damage, with a warning
    (root / "offline-run-20260101_000000-junk").mkdir()
    (root / "offline-run-20260101_000000-junk" / "run-junk.wandb").write_bytes(b"not a wandb log")
    again = _write_run(tmp_path / "other", "p3", 5)  # the same run resumed: the later path wins
    target = root / "offline-run-20260102_000000-p3"
    target.mkdir()
    again.rename(target / "run-p3.wandb")
    return root


def _scan(root: Path, workers: int) -> tuple[list[Any], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = scan_run_dir(root, include_files=False, now=_NOW, workers=workers)
    return runs, [f"{w.category.__name__}: {w.message}" for w in caught]


def test_two_workers_give_the_serial_runs_order_and_warnings(folder: Path) -> None:
    serial, serial_warnings = _scan(folder, 1)
    parallel, parallel_warnings = _scan(folder, 2)
    assert [r.path for r in parallel] == [r.path for r in serial]
    assert [(r.entity, r.project, r.record) for r in parallel] == [(r.entity, r.project, r.record) for r in serial]
    assert parallel_warnings == serial_warnings
    assert any("skipped" in w and "run-junk.wandb" in w for w in serial_warnings)
    assert any("damaged W&B log" in w for w in serial_warnings)
    assert len(serial) == 8  # 7 runs + the torn one; p3 once, from its later file
    p3 = next(r for r in serial if r.record["id"] == "p3")
    assert len(p3.record["history"]) == 5


def test_local_runs_frames_do_not_depend_on_workers(folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        one = local_runs(folder, workers=1)
        three = local_runs(folder, workers=3)
    assert one.to_arrow().equals(three.to_arrow())
    assert one.histories().equals(three.histories())


def test_default_is_serial_for_small_folders_and_parallel_for_big_ones(tmp_path: Path) -> None:
    small = [_write_run(tmp_path, f"s{i}", 3) for i in range(3)]
    assert default_workers(small) == 1
    assert default_workers(small[:1]) == 1
    big = []
    for i in range(3):
        path = tmp_path / f"big{i}.wandb"
        with path.open("wb") as fh:
            fh.truncate(MIN_PARALLEL_BYTES // 2)  # sparse: only the size matters here
        big.append(path)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert default_workers(big) == min(cpus, 3)


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_workers_must_be_a_positive_integer(folder: Path, workers: Any) -> None:
    with pytest.raises(ConfigurationError, match="workers"):
        scan_run_dir(folder, workers=workers)


def test_decode_run_file_is_a_picklable_unit_of_work(folder: Path) -> None:
    fn = pickle.loads(pickle.dumps(decode_run_file))
    path = next(folder.glob("*-p1/run-p1.wandb"))
    run = fn(path, now=_NOW)
    back = pickle.loads(pickle.dumps(run))
    assert back == run
    assert (run.entity, run.project, run.record["id"]) == ("", "par", "p1")
    assert [row["_step"] for row in run.record["history"]] == list(range(31))


def test_workers_is_checked_even_for_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "wandb").mkdir()
    assert scan_run_dir(tmp_path / "wandb", workers=2) == []
    with pytest.raises(ConfigurationError, match="workers"):
        scan_run_dir(tmp_path / "wandb", workers=0)


_IN_CALLER: list[Path] = []
_CALLER = os.getpid()


def _counting_decode(path: Path, *args: Any) -> Any:
    if os.getpid() == _CALLER:
        _IN_CALLER.append(path)
    return _decode_capturing(path, *args)


def test_the_caller_decodes_files_too(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_frames.offline import parallel

    serial, serial_warnings = _scan(folder, 1)
    monkeypatch.setattr(parallel, "_decode_capturing", _counting_decode)
    _IN_CALLER.clear()
    parallel_runs, parallel_warnings = _scan(folder, 2)
    assert _IN_CALLER  # one worker process, and the caller took files from the end
    assert sorted(folder.glob("*/run-*.wandb"))[-1] in _IN_CALLER
    assert [(r.path, r.record) for r in parallel_runs] == [(r.path, r.record) for r in serial]
    assert parallel_warnings == serial_warnings
