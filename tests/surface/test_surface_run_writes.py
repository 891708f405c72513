"""Api.create_run and Run.update (upsertBucket) against a fresh local server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from surface_support import HttpExecutor
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.projects import create_run, update_run
from wandb_frames.testing import LocalServer


@pytest.fixture()
def fresh() -> Iterator[tuple[LocalServer, HttpExecutor]]:
    with LocalServer(entity="writer") as srv:
        srv.add_runs("writer", "p", [{"id": "r1", "config": {"lr": 0.1, "_wandb": {"cli_version": "0.31.0"}},
                                       "summary": {"loss": 1.0}, "tags": ["a"]}])
        yield srv, HttpExecutor(srv.url, srv.api_key)


def test_create_run(fresh: tuple[LocalServer, HttpExecutor]) -> None:
    server, executor = fresh
    node = create_run(executor, "writer", "p", run_id="new-1")
    assert (node["name"], node["state"], node["project"]["name"], node["project"]["entity"]["name"]) == (
        "new-1", "running", "p", "writer")
    generated = create_run(executor, "writer", None, state="pending")
    assert len(generated["name"]) == 8 and generated["project"]["name"] == "uncategorized"
    assert generated["state"] == "pending"
    assert "new-1" in server.store.project("writer", "p").runs  # type: ignore[union-attr]


@pytest.mark.parametrize("kwargs", [{"run_id": "a/b"}, {"run_id": ""}, {"state": "finished"}, {"run_id": 5}])
def test_create_run_bad_arguments(fresh: tuple[LocalServer, HttpExecutor], kwargs: dict[str, object]) -> None:
    _, executor = fresh
    with pytest.raises(ConfigurationError):
        create_run(executor, "writer", "p", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        create_run(executor, "bad/entity", "p")
    assert executor.operations == []


def test_update_run_fields(fresh: tuple[LocalServer, HttpExecutor]) -> None:
    _, executor = fresh
    node = update_run(executor, "writer", "p", "r1", config={"lr": 0.2, "layers": 3}, summary={"loss": 0.5},
                      tags=["a", "b"], notes="tuned", display_name="run one", group="g", job_type="train")
    assert executor.operations == ["RunWriteLookup", "UpdateRun", "UpdateRunSummary"]
    config = json.loads(node["config"])
    assert config["lr"]["value"] == 0.2 and config["layers"]["value"] == 3
    assert "_wandb" in config  # kept although not passed
    assert json.loads(node["summaryMetrics"]) == {"loss": 0.5}
    assert (node["tags"], node["notes"], node["displayName"], node["group"], node["jobType"]) == (
        ["a", "b"], "tuned", "run one", "g", "train")


def test_update_run_leaves_other_fields(fresh: tuple[LocalServer, HttpExecutor]) -> None:
    _, executor = fresh
    node = update_run(executor, "writer", "p", "r1", notes="only notes")
    assert node["tags"] == ["a"] and json.loads(node["config"])["lr"]["value"] == 0.1
    summary_only = update_run(executor, "writer", "p", "r1", summary={"acc": 1})
    assert json.loads(summary_only["summaryMetrics"]) == {"acc": 1}
    assert executor.operations == ["RunWriteLookup", "UpdateRun", "RunWriteLookup", "UpdateRunSummary"]


def test_update_run_not_found(fresh: tuple[LocalServer, HttpExecutor]) -> None:
    _, executor = fresh
    with pytest.raises(NotFoundError) as info:
        update_run(executor, "writer", "p", "ghost", notes="x")
    assert info.value.what == "run 'writer/p/ghost'"
    with pytest.raises(NotFoundError, match="project 'writer/nope'"):
        update_run(executor, "writer", "nope", "r1", notes="x")


@pytest.mark.parametrize("kwargs", [{"config": [1]}, {"summary": "x"}, {"tags": "a"}, {"tags": [""]},
                                    {"notes": 3}])
def test_update_run_bad_arguments(fresh: tuple[LocalServer, HttpExecutor], kwargs: dict[str, object]) -> None:
    _, executor = fresh
    with pytest.raises(ConfigurationError):
        update_run(executor, "writer", "p", "r1", **kwargs)  # type: ignore[arg-type]
    assert executor.operations == []
