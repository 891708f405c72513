"""Api.create_run and Run.update (upsertBucket) against a fresh local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surface_support import make_api, operations
from wandb_frames import Api
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.resources.projects import update_run
from wandb_frames.testing import LocalServer


@pytest.fixture()
def fresh() -> Iterator[tuple[LocalServer, Api]]:
    with LocalServer(entity="writer") as srv:
        srv.add_runs("writer", "p", [{"id": "r1", "config": {"lr": 0.1, "_wandb": {"cli_version": "0.31.0"}},
                                       "summary": {"loss": 1.0}, "tags": ["a"]}])
        yield srv, make_api(srv)


def test_create_run(fresh: tuple[LocalServer, Api]) -> None:
    server, api = fresh
    run = api.create_run(run_id="new-1", project="p", entity="writer")
    assert operations(server) == ["CreateRun", "Run"]
    assert (run.id, run.state, run.project, run.entity) == ("new-1", "running", "p", "writer")
    generated = api.create_run(entity="writer", state="pending")
    assert len(generated.id) == 8 and generated.project == "uncategorized"
    assert generated.state == "pending"
    assert "new-1" in server.store.project("writer", "p").runs  # type: ignore[union-attr]


def test_create_run_default_entity(fresh: tuple[LocalServer, Api]) -> None:
    _, api = fresh
    assert api.create_run(run_id="mine", project="p").entity == "writer"


@pytest.mark.parametrize("kwargs", [{"run_id": "a/b"}, {"run_id": ""}, {"state": "finished"}, {"run_id": 5},
                                    {"entity": "bad/entity"}])
def test_create_run_bad_arguments(fresh: tuple[LocalServer, Api], kwargs: dict[str, object]) -> None:
    server, api = fresh
    with pytest.raises(ConfigurationError):
        api.create_run(**{"entity": "writer", "project": "p", **kwargs})  # type: ignore[arg-type]
    assert operations(server) == []


def test_update_run_fields(fresh: tuple[LocalServer, Api]) -> None:
    server, api = fresh
    run = api.run("writer/p/r1")
    run.config["lr"] = 0.2
    run.config["layers"] = 3
    run.summary["loss"] = 0.5
    run.tags = ["a", "b"]
    run.notes, run.name, run.group, run.job_type = "tuned", "run one", "g", "train"
    server.clear_requests()
    run.update()
    assert operations(server) == ["RunWriteLookup", "UpdateRun", "UpdateRunSummary", "Run"]
    again = make_api(server).run("writer/p/r1")
    assert again.config == {"lr": 0.2, "layers": 3}
    assert again.internal_config["_wandb"] == {"cli_version": "0.31.0"}  # kept although not passed
    assert again.summary == {"loss": 0.5}
    assert (again.tags, again.notes, again.name, again.group, again.job_type) == (
        ["a", "b"], "tuned", "run one", "g", "train")


def test_update_run_leaves_other_fields(fresh: tuple[LocalServer, Api]) -> None:
    server, api = fresh
    run = api.run("writer/p/r1")
    run.notes = "only notes"
    run.update()
    again = make_api(server).run("writer/p/r1")
    assert (again.notes, again.tags, again.config, again.summary) == ("only notes", ["a"], {"lr": 0.1}, {"loss": 1.0})


def test_update_run_not_found(fresh: tuple[LocalServer, Api]) -> None:
    """The module-level write for a run that does not exist (``Api.run`` would fail first)."""
    _, api = fresh
    with pytest.raises(NotFoundError) as info:
        update_run(api, "writer", "p", "ghost", notes="x")
    assert info.value.what == "run 'writer/p/ghost'"
    with pytest.raises(NotFoundError, match="project 'writer/nope'"):
        update_run(api, "writer", "nope", "r1", notes="x")


@pytest.mark.parametrize(("field", "value"), [("tags", [""]), ("tags", [3]), ("notes", 3), ("group", ["g"])])
def test_update_run_bad_values(fresh: tuple[LocalServer, Api], field: str, value: object) -> None:
    server, api = fresh
    run = api.run("writer/p/r1")
    setattr(run, field, value)
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.update()
    assert operations(server) == []


@pytest.mark.parametrize("kwargs", [{"config": [1]}, {"summary": "x"}, {"tags": "a"}])
def test_update_run_bad_arguments(fresh: tuple[LocalServer, Api], kwargs: dict[str, object]) -> None:
    """Argument types ``Run.update`` cannot produce, checked by the module-level write."""
    server, api = fresh
    with pytest.raises(ConfigurationError):
        update_run(api, "writer", "p", "r1", **kwargs)  # type: ignore[arg-type]
    assert operations(server) == []
