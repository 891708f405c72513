"""Real offline runs written by ``wandb==0.31.0``, read back and checked against what was logged."""

from __future__ import annotations

import shutil
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offline_support import (
    CRASH_STEPS,
    MAIN,
    OTHER_PROJECT,
    PROJECT,
    Generated,
    expected_main_history,
    main_row,
    same,
)

from wandb_frames.errors import ConfigurationError, CorruptRecordWarning
from wandb_frames.offline.folders import read_run_dir, scan_run_dir
from wandb_frames.offline.reader import read_run_file

_FAR_FUTURE = time.time() + 10 * 86400


def _strip(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k not in ("_timestamp", "_runtime")}


def test_main_run_fields(generated: Generated) -> None:
    rec = read_run_file(generated.file("main"))
    assert rec["id"] == generated.ids["main"]
    assert rec["display_name"] == MAIN["name"]
    assert rec["state"] == "finished"
    assert rec["tags"] == MAIN["tags"]
    assert (rec["group"], rec["job_type"], rec["notes"]) == (MAIN["group"], MAIN["job_type"], MAIN["notes"])
    created, beat = rec["created_at"], rec["heartbeat_at"]
    assert isinstance(created, datetime) and isinstance(beat, datetime)
    assert created.tzinfo is UTC and created <= beat
    assert abs(created.timestamp() - generated.file("main").stat().st_mtime) < 120


def test_config_updates_applied_in_order(generated: Generated) -> None:
    config = read_run_file(generated.file("main"))["config"]
    expected = dict(MAIN["config"]) | MAIN["config_update"]  # update replaces top-level "model"
    assert {k: v for k, v in config.items() if k != "_wandb"} == expected


def test_history_matches_what_was_logged(generated: Generated) -> None:
    rec = read_run_file(generated.file("main"))
    history = rec["history"]
    expected = expected_main_history()
    assert len(history) == len(expected)
    for got, want in zip(history, expected, strict=True):
        got_plain = _strip(got)
        assert got_plain.keys() == want.keys()
        assert all(same(got_plain[k], want[k]) for k in want)
        assert isinstance(got["_timestamp"], float) and isinstance(got["_runtime"], float)
    runtimes = [row["_runtime"] for row in history]
    assert runtimes == sorted(runtimes)


def test_summary_is_last_values_with_overrides(generated: Generated) -> None:
    summary = read_run_file(generated.file("main"))["summary"]
    last: dict[str, object] = {}
    for i in range(MAIN["steps"]):
        last.update(main_row(i))
    last.update(MAIN["summary_override"])
    for key, value in last.items():
        assert same(summary[key], value), key
    assert summary["_step"] == MAIN["steps"] - 1
    assert summary["eval"] == {"f1": 35 / 50, "name": "e35"}  # nested: the last logged dict


def test_system_metrics_from_stats_records(generated: Generated) -> None:
    rec = read_run_file(generated.file("main"))
    assert rec["system_history"], "the SDK writes at least one stats record"
    row = rec["system_history"][-1]
    assert "_timestamp" in row and "_runtime" in row
    metrics = {k[len("system."):]: v for k, v in row.items() if k.startswith("system.")}
    assert metrics and metrics == {k: rec["system_metrics"][k] for k in metrics}


def test_files_and_metadata(generated: Generated) -> None:
    rec = read_run_file(generated.file("main"))
    assert "requirements.txt" in rec["files"]
    assert '"python"' in str(rec["files"]["wandb-metadata.json"])
    assert "files" in read_run_file(generated.file("main"), include_files=False)


def test_nonzero_exit_code_is_failed(generated: Generated) -> None:
    rec = read_run_file(generated.file("failed"))
    assert rec["state"] == "failed"
    assert [(_strip(r)) for r in rec["history"]] == [{"_step": 0, "loss": 3.0}, {"_step": 5, "loss": 2.0}]
    assert rec["summary"]["loss"] == 2.0 and rec["group"] == "exp-b"


def test_crashed_run_keeps_the_written_prefix(generated: Generated) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_run_file(generated.file("crashed"), now=_FAR_FUTURE)
        young = read_run_file(generated.file("crashed"), now=generated.file("crashed").stat().st_mtime + 1)
    assert all(issubclass(w.category, CorruptRecordWarning) for w in caught)
    assert rec["state"] == "crashed" and young["state"] == "running"
    steps = [row["_step"] for row in rec["history"]]
    assert 0 < len(steps) <= CRASH_STEPS
    assert steps == list(range(len(steps)))
    assert all(row["loss"] == row["_step"] * 0.5 and row["acc"] == row["_step"] for row in rec["history"])
    assert rec["config"]["lr"] == 0.2


def test_torn_copy_warns_and_keeps_records(generated: Generated, tmp_path: Path) -> None:
    data = generated.file("main").read_bytes()
    torn = tmp_path / "run-torn.wandb"
    torn.write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(CorruptRecordWarning, match="torn-tail"):
        rec = read_run_file(torn, now=_FAR_FUTURE)
    assert rec["state"] == "crashed"
    full = read_run_file(generated.file("main"))["history"]
    assert 0 < len(rec["history"]) < len(full)
    assert rec["history"] == full[: len(rec["history"])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.0, 1.0))
def test_any_prefix_of_a_real_file_reads(generated: Generated, tmp_path: Path, fraction: float) -> None:
    data = generated.file("main").read_bytes()
    full = read_run_file(generated.file("main"))
    cut = int(len(data) * fraction)
    path = tmp_path / f"run-cut{cut}.wandb"
    path.write_bytes(data[:cut])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        rec = read_run_file(path, include_files=False)
    assert rec["history"] == full["history"][: len(rec["history"])]
    assert rec["system_history"] == full["system_history"][: len(rec["system_history"])]


def test_crc_damage_is_reported(generated: Generated, tmp_path: Path) -> None:
    data = bytearray(generated.file("main").read_bytes())
    data[200] ^= 0x55
    path = tmp_path / "run-bad.wandb"
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptRecordWarning, match="crc"):
        read_run_file(path)


def test_not_a_wandb_file(tmp_path: Path) -> None:
    path = tmp_path / "run-x.wandb"
    path.write_bytes(b"hello world, not a log")
    with pytest.raises(ConfigurationError, match="not a W&B transaction log"):
        read_run_file(path)
    with pytest.raises(ConfigurationError, match="not found"):
        read_run_dir(tmp_path / "missing")


def test_read_run_dir_finds_every_run_and_project(generated: Generated, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        runs = scan_run_dir(generated.wandb_dir)
        from_parent = read_run_dir(generated.wandb_dir.parent)
    assert sorted(r.record["id"] for r in runs) == sorted(generated.ids.values())
    assert {r.record["id"]: r.project for r in runs}[generated.ids["other"]] == OTHER_PROJECT
    assert {r.project for r in runs} == {PROJECT, OTHER_PROJECT}
    assert len(from_parent) == len(runs)
    # a synced-style folder and a junk file next to the runs
    copy = tmp_path / "wandb"
    shutil.copytree(generated.file("main").parent, copy / f"run-20260101_000000-{generated.ids['main']}")
    junk = copy / "offline-run-20260101_000000-junk"
    junk.mkdir()
    (junk / "run-junk.wandb").write_bytes(b"garbage!")
    with pytest.warns(CorruptRecordWarning, match="skipped"):
        found = read_run_dir(copy)
    assert [r["id"] for r in found] == [generated.ids["main"]]
