"""Tests for the deterministic synthetic project generator."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from statistics import mean
from typing import Any

import pytest

from wandb_frames.errors import ConfigurationError
from wandb_frames.testing.records import RunRecord
from wandb_frames.testing.synthetic import (
    EVAL_EVERY,
    SWEEP_IDS,
    iter_synthetic_runs,
    synthetic_artifacts,
    synthetic_project,
    synthetic_reports,
    synthetic_sweeps,
)

PLAIN = (str, int, float, bool, type(None), datetime, bytes)


@pytest.fixture(scope="module")
def runs() -> list[RunRecord]:
    return synthetic_project(500, seed=0)


@pytest.fixture(scope="module")
def hist_runs() -> list[RunRecord]:
    return synthetic_project(60, seed=3, history_steps=200, n_history_metrics=10)


def _leaves(value: dict[str, Any]) -> int:
    return sum(_leaves(v) if isinstance(v, dict) else 1 for v in value.values())


def _all_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _all_values(v)]
    if isinstance(value, list):
        return [x for v in value for x in _all_values(v)]
    return [value]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def test_same_arguments_give_identical_records() -> None:
    first = synthetic_project(40, seed=7, history_steps=30, awkward=True)
    second = synthetic_project(40, seed=7, history_steps=30, awkward=True)
    assert repr(first) == repr(second)
    assert repr(list(iter_synthetic_runs(40, 7, history_steps=30, awkward=True))) == repr(first)


def test_different_seed_differs() -> None:
    assert repr(synthetic_project(20, seed=1)) != repr(synthetic_project(20, seed=2))
    ids = [[r["id"] for r in synthetic_project(20, seed)] for seed in (1, 2)]
    assert ids[0] != ids[1]


def test_counts_ids_and_times(runs: list[RunRecord]) -> None:
    assert len(runs) == 500
    assert len({r["id"] for r in runs}) == 500
    created = [r["created_at"] for r in runs]
    assert all(isinstance(c, datetime) and c.tzinfo is UTC for c in created)
    assert created == sorted(created)
    assert created[0] == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(set(created)) < len(created)  # some ties
    assert all(r["heartbeat_at"] >= r["created_at"] for r in runs)  # type: ignore[operator]
    assert synthetic_project(0) == []


def test_states_users_tags_and_sweeps(runs: list[RunRecord]) -> None:
    states = Counter(r["state"] for r in runs)
    assert states["finished"] > 300
    assert {"crashed", "failed", "killed", "running"} <= set(states)
    assert 0 < states["running"] <= 15
    running_positions = [i for i, r in enumerate(runs) if r["state"] == "running"]
    assert min(running_positions) >= 490  # only the newest runs are still running
    assert len({r["user"] for r in runs}) in (2, 3)
    assert any(r["tags"] == [] for r in runs) and any(r["tags"] for r in runs)
    assert any(r["notes"] is None for r in runs) and any(r["notes"] for r in runs)
    assert {r["job_type"] for r in runs} == {"train", "eval"}
    swept = [r for r in runs if r["sweep"] is not None]
    assert 0.5 < len(swept) / len(runs) < 0.7
    assert {r["sweep"] for r in swept} == set(SWEEP_IDS)
    assert all(r["sweep"] is None for r in synthetic_project(30, sweep_fraction=0.0))


def test_nested_config_and_mixed_kinds(runs: list[RunRecord]) -> None:
    config = runs[0]["config"]
    assert {"name", "lr", "betas", "weight_decay"} <= set(config["optimizer"])
    assert config["optimizer"]["betas"] == [0.9, 0.999]
    assert {"arch", "layers", "hidden", "dropout"} <= set(config["model"])
    assert isinstance(config["data"]["augment"], bool)
    assert "lr.warmup" in config and "eval/interval" in config
    assert 25 <= _leaves(config) <= 35
    warmups = [r["config"]["warmup_steps"] for r in runs]
    assert "auto" in warmups and any(isinstance(w, int) for w in warmups)
    assert any(r["config"]["grad_clip"] is None for r in runs)
    grid = [r for r in runs if r["sweep"] == "sw-lr-grid"]
    assert {r["config"]["optimizer"]["lr"] for r in grid} == {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}


def test_awkward_summary_values_present(runs: list[RunRecord]) -> None:
    summaries = [r["summary"] for r in runs]
    values = [v for s in summaries for v in s.values() if isinstance(v, float)]
    assert any(math.isnan(v) for v in values)
    assert math.inf in values and -math.inf in values
    types = {v["_type"] for s in summaries for v in s.values() if isinstance(v, dict)
             and "_type" in v}
    assert types == {"image-file", "histogram", "table-file"}
    keys = {k for s in summaries for k in s}
    assert {"eval/loss", "train/acc", "val accuracy", "précision", "损失"} <= keys
    assert any("test/acc" not in s for s in summaries) and any("test/acc" in s for s in summaries)
    assert any(isinstance(v, bool) for s in summaries for v in s.values())
    assert any(v is None for s in summaries for v in s.values())
    assert all(isinstance(s["confusion_diag"], list) for s in summaries)
    assert 30 <= sum(len(s) for s in summaries) / len(summaries) <= 45
    assert "a.b" not in runs[0]["config"] and "a" not in runs[0]["summary"]


def test_awkward_flag_adds_separator_collision() -> None:
    run = synthetic_project(3, awkward=True)[0]
    assert run["config"]["a.b"] == 1 and run["config"]["a"] == {"b": 2}
    assert "a.b" in run["summary"] and run["summary"]["a"] == {"b": 0.25}


def test_width_control() -> None:
    wide = synthetic_project(20, n_config_keys=200, n_summary_keys=200)
    for run in wide:
        assert 190 <= _leaves(run["config"]) <= 210
        assert 180 <= len(run["summary"]) <= 215
    assert "extra_cfg_000" in wide[0]["config"] and "metric_000" in wide[0]["summary"]


def test_records_hold_plain_python_values(hist_runs: list[RunRecord]) -> None:
    for run in hist_runs[:10]:
        for value in _all_values(dict(run)):
            assert type(value) in PLAIN, (type(value), value)


def test_summary_matches_last_history_values(hist_runs: list[RunRecord]) -> None:
    for run in hist_runs:
        history, summary = run["history"], run["summary"]
        metrics = [k for k in history[0] if not k.startswith("_")]
        assert len(metrics) == 10 and "aux/metric_08" in metrics
        for metric in metrics:
            last = [row[metric] for row in history if metric in row][-1]
            assert _same(summary[metric], last), (run["id"], metric)
        for key in ("_step", "_runtime", "_timestamp"):
            assert summary[key] == history[-1][key]
        assert [row["_step"] for row in history] == list(range(len(history)))
        assert all(("eval/loss" in row) == (row["_step"] % EVAL_EVERY == 0) for row in history)
        runtimes = [row["_runtime"] for row in history]
        assert runtimes == sorted(runtimes)


def test_crashed_runs_stop_early(hist_runs: list[RunRecord]) -> None:
    lengths = {(r["state"], len(r["history"])) for r in hist_runs}
    assert all(n == 200 for state, n in lengths if state == "finished")
    stopped = [n for state, n in lengths if state in ("crashed", "failed", "killed")]
    assert stopped and all(n < 200 for n in stopped)


def test_system_history_and_metadata(hist_runs: list[RunRecord]) -> None:
    run = hist_runs[0]
    rows = run["system_history"]
    assert len(rows) > 1 and {"system.cpu", "system.gpu.0.gpu"} <= set(rows[0])
    assert all(b["_runtime"] - a["_runtime"] >= 10.0 - 1e-9 for a, b in zip(rows, rows[1:]))
    assert run["system_metrics"]["cpu"] == rows[-1]["system.cpu"]
    metadata = json.loads(run["files"]["wandb-metadata.json"])
    assert {"os", "python", "host", "program", "gpu", "gpu_count", "cpu_count", "startedAt",
            "args"} <= set(metadata)
    assert metadata["host"] == run["host"]
    assert "output.log" in run["files"]
    assert "history" not in synthetic_project(2)[0]


def test_loss_depends_on_learning_rate() -> None:
    runs = synthetic_project(400, seed=5, sweep_fraction=1.0)
    grid = [r for r in runs if r["sweep"] == "sw-lr-grid" and r["state"] == "finished"]

    def loss_at(lr: float) -> float:
        chosen = [r for r in grid if r["config"]["optimizer"]["lr"] == lr]
        return mean(float(r["summary"]["loss"]) for r in chosen)

    assert loss_at(3e-3) < loss_at(1e-4)


def test_sweeps_describe_search_space(runs: list[RunRecord]) -> None:
    sweeps = {s["id"]: s for s in synthetic_sweeps(runs)}
    assert set(sweeps) == set(SWEEP_IDS)
    grid = sweeps["sw-lr-grid"]
    assert grid["method"] == "grid" and grid["run_count_expected"] == 15
    assert grid["config"]["metric"] == {"name": "eval/loss", "goal": "minimize"}
    assert "lr" in grid["config"]["parameters"]["optimizer"]["parameters"]
    assert sweeps["sw-bayes-opt"]["method"] == "bayes"
    assert synthetic_sweeps(synthetic_project(10, sweep_fraction=0.0)) == []


def test_artifacts(runs: list[RunRecord]) -> None:
    artifacts = synthetic_artifacts(runs, seed=0)
    assert repr(artifacts) == repr(synthetic_artifacts(runs, seed=0))
    data = [a for a in artifacts if a["type"] == "dataset"]
    models = [a for a in artifacts if a["type"] == "model"]
    assert len({a["name"] for a in data}) == 1 and len(data) == 3
    users = {rid for a in data for rid in a["used_by"]}
    assert 0.7 * len(runs) < len(users) < len(runs)
    state = {r["id"]: r["state"] for r in runs}
    assert len(models) == 8
    assert all(state[a.get("logged_by") or ""] == "finished" for a in models)
    assert [a["version"] for a in models] == list(range(8))
    assert sum("best" in a["aliases"] for a in models) == 1
    assert "latest" in models[-1]["aliases"] and "latest" in data[-1]["aliases"]
    assert isinstance(models[0]["metadata"]["eval"], dict)


def test_reports() -> None:
    reports = synthetic_reports(seed=0)
    assert 2 <= len(reports) <= 3
    assert repr(reports) == repr(synthetic_reports(seed=0))
    assert all(isinstance(r["spec"], dict) and r["spec"]["blocks"] for r in reports)
    assert len({r["id"] for r in reports}) == len(reports)


def test_naive_start_is_utc() -> None:
    run = synthetic_project(1, start=datetime(2025, 5, 1))[0]
    assert run["created_at"] == datetime(2025, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "kwargs", [{"n_runs": -1}, {"history_steps": -2}, {"sweep_fraction": 1.5}]
)
def test_bad_arguments_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        iter_synthetic_runs(**kwargs)
