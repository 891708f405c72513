"""The official wandb 0.31.0 client against the local server (end to end, through wandb-core)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from wandb_frames.testing import LocalServer, synthetic_project, synthetic_sweeps

wandb = pytest.importorskip("wandb")
pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Any, list[Any]]]:
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    os.environ.setdefault("WANDB_SILENT", "true")
    records = synthetic_project(12, history_steps=25)
    with LocalServer() as srv:
        srv.add_runs("ent", "proj", records)
        srv.add_sweeps("ent", "proj", synthetic_sweeps(records))
        yield wandb.Api(api_key=srv.api_key, overrides={"base_url": srv.url}, timeout=30), records


def test_runs_listing_and_lazy_load(api: tuple[Any, list[Any]]) -> None:
    client, records = api
    runs = client.runs("ent/proj", filters={"state": "finished"}, per_page=5)
    finished = [r["id"] for r in sorted(records, key=lambda r: r["created_at"]) if r.get("state", "finished") == "finished"]
    assert len(runs) == len(finished)
    assert [r.id for r in runs] == finished
    first = runs[0]
    assert set(first.config) == {k for k in records_by_id(records)[first.id]["config"] if k not in ("_wandb", "wandb_version")}


def records_by_id(records: list[Any]) -> dict[str, Any]:
    return {r["id"]: r for r in records}


def test_history_paths(api: tuple[Any, list[Any]]) -> None:
    client, records = api
    rid = records[0]["id"]
    run = client.run(f"ent/proj/{rid}")
    assert len(list(run.scan_history())) == 25
    assert run.history(samples=10).shape[0] == 10
    assert run.lastHistoryStep == 24


def test_sweep_and_update(api: tuple[Any, list[Any]]) -> None:
    client, records = api
    sweep_id = next(r["sweep"] for r in records if r.get("sweep"))
    sweep = client.sweep(f"ent/proj/{sweep_id}")
    assert len(sweep.runs) == sum(1 for r in records if r.get("sweep") == sweep_id)
    run = client.run(f"ent/proj/{records[1]['id']}")
    run.tags = ["updated"]
    run.update()
    client.flush()
    assert client.run(f"ent/proj/{records[1]['id']}").tags == ["updated"]
