"""The official ``wandb==0.31.0`` client and wandb-frames read the same values from one server."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from typing import Any

import pytest

from surface_support import ENTITY, PROJECT
from wandb_frames import Api

pytestmark = pytest.mark.conformance


def _ts(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def test_projects(wandb_api: Any, api: Api) -> None:
    theirs = [(p.name, p.entity, p.created_at, p.url) for p in wandb_api.projects(ENTITY, per_page=2)]
    ours = [(p.name, p.entity, p.created_at, p.url) for p in api.projects(ENTITY, per_page=2)]
    assert ours == theirs


def test_sweep(wandb_api: Any, api: Api) -> None:
    theirs = wandb_api.sweep(f"{ENTITY}/{PROJECT}/sw1")
    ours = api.sweep(f"{ENTITY}/{PROJECT}/sw1")
    assert (ours.id, ours.name, ours.state, ours.config, ours.expected_run_count, ours.url, ours.order) == (
        theirs.id, theirs.name, theirs.state, theirs.config, theirs.expected_run_count, theirs.url, theirs.order)
    assert sorted(r.id for r in ours.runs) == sorted(r.id for r in wandb_api.runs(
        f"{ENTITY}/{PROJECT}", filters={"$and": [{"sweep": "sw1"}]}))
    best, best_lr = ours.best_run(), ours.best_run(order="+config.lr")
    assert best is not None and best.id == theirs.best_run().id
    assert best_lr is not None and best_lr.id == theirs.best_run(order="+config.lr").id


def test_project_sweeps(wandb_api: Any, api: Api) -> None:
    theirs = [(s.id, s.name, s.state) for s in wandb_api.project(PROJECT, ENTITY).sweeps(per_page=2)]
    ours = [(s.id, s.name, s.state) for s in api.sweeps(f"{ENTITY}/{PROJECT}", per_page=2)]
    assert ours == theirs


def _artifact_values(art: Any) -> tuple[Any, ...]:
    created = art.created_at if isinstance(art.created_at, datetime) else _ts(art.created_at)
    return (art.name, art.version, sorted(art.aliases), art.type, art.digest, art.size, art.metadata,
            art.description, created)


@pytest.mark.parametrize("name", ["local/surface/data:v1", "local/surface/data:best", "weights:prod"])
def test_artifact(wandb_api: Any, api: Api, name: str) -> None:
    theirs = wandb_api.artifact(name if "/" in name else f"{PROJECT}/{name}")
    ours = api.artifact(name if "/" in name else f"{ENTITY}/{PROJECT}/{name}")
    assert _artifact_values(ours) == _artifact_values(theirs)
    logged_by = ours.logged_by()
    assert logged_by is not None and logged_by.id == theirs.logged_by().id


def test_artifact_types(wandb_api: Any, api: Api) -> None:
    theirs = [(t.name, t.id) for t in wandb_api.artifact_types(PROJECT)]
    ours = [(t.name, t.id) for t in api.artifact_types(f"{ENTITY}/{PROJECT}")]
    assert ours == theirs
    one = wandb_api.artifact_type("model", PROJECT)
    assert api.artifact_type("model", f"{ENTITY}/{PROJECT}").name == one.name


def test_artifact_versions(wandb_api: Any, api: Api) -> None:
    with warnings.catch_warnings():  # artifact_versions is deprecated in wandb 0.31.0
        warnings.simplefilter("ignore")
        theirs = [_artifact_values(a) for a in wandb_api.artifact_versions(
            "dataset", f"{ENTITY}/{PROJECT}/data", per_page=2)]
    ours = [_artifact_values(a) for a in api.artifact_versions("dataset", f"{ENTITY}/{PROJECT}/data", per_page=2)]
    assert ours == theirs


def test_run_artifacts(wandb_api: Any, api: Api) -> None:
    run = wandb_api.run(f"{ENTITY}/{PROJECT}/sw-run-1")
    ours = api.run(f"{ENTITY}/{PROJECT}/sw-run-1")
    assert [a.name for a in ours.logged_artifacts()] == [a.name for a in run.logged_artifacts()]
    assert [a.name for a in ours.used_artifacts()] == [a.name for a in run.used_artifacts()]


def test_reports(wandb_api: Any, api: Api) -> None:
    theirs = [(r.id, r.name, r.display_name, r.description, r.updated_at, r.url, r.spec)
              for r in wandb_api.reports(f"{ENTITY}/{PROJECT}", per_page=2)]
    ours = [(r.id, r.name, r.display_name, r.description, r.updated_at, r.url, r.spec)
            for r in api.reports(f"{ENTITY}/{PROJECT}", per_page=2)]
    assert ours == theirs and len(ours) == 5


def test_files(wandb_api: Any, api: Api) -> None:
    run = wandb_api.run(f"{ENTITY}/{PROJECT}/sw-run-0")
    mine = api.run(f"{ENTITY}/{PROJECT}/sw-run-0")
    theirs = [(f.name, f.size, f.md5, f.mimetype, f.updated_at) for f in run.files(per_page=2)]
    ours = [(f.name, f.size, f.md5, f.mimetype, f.updated_at) for f in mine.files(per_page=2)]
    assert ours == theirs
    assert mine.file("file-3.txt").md5 == run.file("file-3.txt").md5


def test_create_and_update_run(wandb_api: Any, api: Api) -> None:
    """Runs written by each client read back the same through the official client."""
    wandb_api.create_run(run_id="conf-theirs", project="conformance")
    created = api.create_run(run_id="conf-ours", project="conformance", entity=ENTITY)
    theirs = wandb_api.run(f"{ENTITY}/conformance/conf-theirs")
    ours = wandb_api.run(f"{ENTITY}/conformance/conf-ours")
    assert (ours.state, ours.project, ours.entity, ours.id) == (theirs.state, theirs.project, theirs.entity, created.id)

    theirs.config["lr"] = 0.5
    theirs.summary["loss"] = 0.25
    theirs.tags = ["t1"]
    theirs.notes = "noted"
    theirs.update()
    created.config["lr"] = 0.5
    created.summary["loss"] = 0.25
    created.tags = ["t1"]
    created.notes = "noted"
    created.update()
    wandb_api.flush()  # the official Api caches Run objects by path
    a, b = (wandb_api.run(f"{ENTITY}/conformance/{i}") for i in ("conf-theirs", "conf-ours"))
    assert (dict(a.config), a.summary["loss"], a.tags, a.notes) == (dict(b.config), b.summary["loss"], b.tags, b.notes)
    assert json.loads(json.dumps(dict(b.config))) == {"lr": 0.5}


def test_artifact_type_collections(wandb_api: Any, api: Api) -> None:
    for type_name in ("dataset", "model"):
        theirs = [(c.name, c.id, c.type) for c in wandb_api.artifact_type(type_name, PROJECT).collections()]
        ours = [(c.name, c.id, c.type) for c in api.artifact_type(type_name, f"{ENTITY}/{PROJECT}").collections()]
        assert ours == theirs and ours


def test_file_download(wandb_api: Any, api: Api, tmp_path: Any) -> None:
    with wandb_api.run(f"{ENTITY}/{PROJECT}/sw-run-0").file("file-4.txt").download(root=str(tmp_path / "w")) as theirs, \
            api.run(f"{ENTITY}/{PROJECT}/sw-run-0").file("file-4.txt").download(str(tmp_path / "f")) as ours:
        assert type(ours) is type(theirs)  # an open text file, as wandb
        assert ours.read() == theirs.read() == "content 4"
    assert (tmp_path / "f" / "file-4.txt").read_bytes() == b"content 4"
