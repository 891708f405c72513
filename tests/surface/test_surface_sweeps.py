"""Api.sweep, a project's sweeps and the sweep frame against the local server."""

from __future__ import annotations

from typing import Any

import pytest

from surface_support import ENTITY, PROJECT, SWEEP_CONFIG, HttpExecutor
from wandb_frames._executor import split_object_path
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.sweeps import get_sweep, list_sweeps


def test_sweep_normal(executor: HttpExecutor) -> None:
    sweep = get_sweep(executor, ENTITY, PROJECT, "sw1", app_url="http://app.test")
    assert (sweep.id, sweep.name, sweep.state, sweep.method) == ("sw1", "LR search", "FINISHED", "random")
    assert sweep.config == SWEEP_CONFIG
    assert (sweep.run_count, sweep.expected_run_count) == (5, 10)
    assert (sweep.metric, sweep.goal, sweep.order) == ("loss", "minimize", "+summary_metrics.loss")
    assert sweep.parameters == ["lr", "batch", "optim.beta"]
    assert sweep.url == "http://app.test/local/surface/sweeps/sw1"
    assert executor.operations == ["SweepByName"]


def test_sweep_from_short_path(executor: HttpExecutor) -> None:
    entity, project, sweep_id = split_object_path("sw1", kind="sweep", default_entity=ENTITY, default_project=PROJECT)
    assert get_sweep(executor, entity, project, sweep_id).id == "sw1"


def test_sweep_runs_and_best_run(executor: HttpExecutor, runs_factory: Any) -> None:
    sweep = get_sweep(executor, ENTITY, PROJECT, "sw1", runs_factory)
    frame = sweep.runs.to_pandas()
    assert sorted(frame["id"]) == [f"sw-run-{i}" for i in range(5)]
    best = sweep.best_run()
    assert best is not None and getattr(best, "id", None) == "sw-run-3"
    worst = sweep.best_run(order="-loss")
    assert getattr(worst, "id", None) == "sw-run-2"


def test_sweep_frame(executor: HttpExecutor, runs_factory: Any) -> None:
    frame = get_sweep(executor, ENTITY, PROJECT, "sw1", runs_factory).to_pandas()
    assert list(frame.columns) == ["id", "name", "state", "created_at", "config.lr", "config.batch",
                                   "config.optim.beta", "summary.loss"]
    assert len(frame) == 5
    row = frame.set_index("id").loc["sw-run-3"]
    assert (row["config.batch"], row["summary.loss"]) == (16, 0.1)


def test_sweep_without_runs_factory(executor: HttpExecutor) -> None:
    sweep = get_sweep(executor, ENTITY, PROJECT, "sw1")
    with pytest.raises(ConfigurationError, match="runs_factory"):
        sweep.runs


def test_sweep_not_found(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError) as info:
        get_sweep(executor, ENTITY, PROJECT, "nope")
    assert info.value.what == "sweep 'local/surface/nope'"
    with pytest.raises(NotFoundError) as info:
        get_sweep(executor, ENTITY, "no-project", "sw1")
    assert info.value.what == "project 'local/no-project'"


@pytest.mark.parametrize(("project", "sweep_id"), [("a/b", "s"), ("p", ""), ("p", "x:y"), ("p", None)])
def test_sweep_bad_arguments(executor: HttpExecutor, project: str, sweep_id: Any) -> None:
    with pytest.raises(ConfigurationError):
        get_sweep(executor, ENTITY, project, sweep_id)
    assert executor.operations == []


def test_sweeps_paginate_and_frame(executor: HttpExecutor) -> None:
    sweeps = list_sweeps(executor, ENTITY, PROJECT, per_page=2)
    frame = sweeps.to_pandas()
    assert sorted(frame["id"]) == ["sw1", "sw2", "sw3", "sw4", "sw5"]
    assert executor.operations == ["SweepsPage"] * 3
    assert str(frame["run_count"].dtype) == "int64[pyarrow]"
    assert str(frame["best_loss"].dtype) == "double[pyarrow]"
    assert frame.set_index("id").loc["sw1", "config.metric.name"] == "loss"


def test_sweeps_not_found(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError, match="project 'local/missing'"):
        list(list_sweeps(executor, ENTITY, "missing"))
