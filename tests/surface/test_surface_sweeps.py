"""Api.sweep, Api.sweeps and the sweep frame against the local server."""

from __future__ import annotations

import pytest

from surface_support import ENTITY, PROJECT, SWEEP_CONFIG, make_api, operations
from wandb_frames import Api
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.resources.sweeps import get_sweep
from wandb_frames.testing import LocalServer


def test_sweep_normal(api: Api, server: LocalServer) -> None:
    sweep = api.sweep(f"{ENTITY}/{PROJECT}/sw1")
    assert (sweep.id, sweep.name, sweep.state, sweep.method) == ("sw1", "LR search", "FINISHED", "random")
    assert sweep.config == SWEEP_CONFIG
    assert (sweep.run_count, sweep.expected_run_count) == (5, 10)
    assert (sweep.metric, sweep.goal, sweep.order) == ("loss", "minimize", "+summary_metrics.loss")
    assert sweep.parameters == ["lr", "batch", "optim.beta"]
    assert sweep.url == f"{api.app_url}/local/surface/sweeps/sw1"
    assert operations(server) == ["SweepByName"]


@pytest.mark.parametrize("path", ["sw1", f"{PROJECT}/sw1", f"{ENTITY}/{PROJECT}/sweeps/sw1"])
def test_sweep_from_other_path_forms(server: LocalServer, path: str) -> None:
    api = make_api(server, entity=ENTITY, project=PROJECT)
    server.clear_requests()
    assert api.sweep(path).id == "sw1"
    assert operations(server) == ["SweepByName"]


def test_sweep_from_app_url(api: Api) -> None:
    assert api.sweep(f"{api.app_url}/{ENTITY}/{PROJECT}/sweeps/sw1/overview?nw=1").id == "sw1"


def test_sweep_runs_and_best_run(api: Api) -> None:
    sweep = api.sweep(f"{ENTITY}/{PROJECT}/sw1")
    frame = sweep.runs.to_pandas()
    assert sorted(frame["id"]) == [f"sw-run-{i}" for i in range(5)]
    best = sweep.best_run()
    assert best is not None and best.id == "sw-run-3"
    worst = sweep.best_run(order="-loss")
    assert worst is not None and worst.id == "sw-run-2"


def test_sweep_frame(api: Api) -> None:
    frame = api.sweep(f"{ENTITY}/{PROJECT}/sw1").to_pandas()
    assert list(frame.columns) == ["id", "name", "state", "created_at", "config.lr", "config.batch",
                                   "config.optim.beta", "summary.loss"]
    assert len(frame) == 5
    row = frame.set_index("id").loc["sw-run-3"]
    assert (row["config.batch"], row["summary.loss"]) == (16, 0.1)


def test_sweep_without_runs_factory(api: Api) -> None:
    """The module-level constructor without the Api's runs factory: no runs, a clear error."""
    sweep = get_sweep(api, ENTITY, PROJECT, "sw1")
    with pytest.raises(ConfigurationError, match="runs_factory"):
        sweep.runs


def test_sweep_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        api.sweep(f"{ENTITY}/{PROJECT}/nope")
    assert info.value.what == "sweep 'local/surface/nope'"
    with pytest.raises(NotFoundError) as info:
        api.sweep(f"{ENTITY}/no-project/sw1")
    assert info.value.what == "project 'local/no-project'"


@pytest.mark.parametrize("path", ["e/a/b/s", "/", "e/p/x:y", "e//s1", "e/p/runs/x/y", "", None])
def test_sweep_bad_arguments(server: LocalServer, path: object) -> None:
    api = make_api(server, entity=ENTITY, project=PROJECT)  # defaults set: no default-entity lookup
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        api.sweep(path)  # type: ignore[arg-type]
    assert operations(server) == []


def test_sweeps_paginate_and_frame(api: Api, server: LocalServer) -> None:
    sweeps = api.sweeps(f"{ENTITY}/{PROJECT}", per_page=2)
    frame = sweeps.to_pandas()
    assert sorted(frame["id"]) == ["sw1", "sw2", "sw3", "sw4", "sw5"]
    assert operations(server) == ["SweepsPage"] * 3
    assert list(frame.columns[:3]) == ["id", "name", "entity"]
    assert str(frame["run_count"].dtype) == "int64"
    assert str(frame["best_loss"].dtype) == "float64"
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame.set_index("id").loc["sw1", "config.metric.name"] == "loss"
    assert str(frame["config.parameters.lr.values"].dtype) == "object"
    assert all(isinstance(v, tuple) and all(isinstance(x, float) for x in v)
               for v in frame["config.parameters.lr.values"].dropna())


def test_sweeps_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError, match="project 'local/missing'"):
        list(api.sweeps(f"{ENTITY}/missing"))
