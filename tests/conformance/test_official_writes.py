"""``create_run()`` and ``run.update()`` of wandb 0.31.0, read back through the official client."""

from __future__ import annotations

import json
from typing import Any

from conformance_support import ENTITY, SEED, WRITE_PROJECT, operations, same

from wandb_frames.testing import LocalServer
from wandb_frames.testing.synthetic import synthetic_project

PATH = f"{ENTITY}/{WRITE_PROJECT}"


def test_create_run_then_read_back(api: Any, server: LocalServer) -> None:
    created = api.create_run(run_id="created01", project=WRITE_PROJECT, entity=ENTITY)
    assert created.id == "created01"
    assert created.state == "running"
    upserts = [v for n, v in server.requests if n == "UpsertBucket"]
    assert upserts and upserts[-1]["name"] == "created01" and upserts[-1]["state"] == "running"

    api.flush()
    again = api.run(f"{PATH}/created01")
    assert again.id == "created01"
    assert again.state == "running"
    assert dict(again.config) == {}
    assert again.storage_id == created.storage_id
    listed = {r.id for r in api.runs(PATH)}
    assert "created01" in listed
    assert listed >= {r["id"] for r in synthetic_project(3, seed=SEED + 1)}


def test_update_config_summary_tags_then_read_back(api: Any, server: LocalServer) -> None:
    rec = synthetic_project(3, seed=SEED + 1)[1]
    run = api.run(f"{PATH}/{rec['id']}")
    assert same(dict(run.config), rec["config"]) == []

    run.config["new_key"] = {"nested": [1, 2.5, "x"]}
    run.config["optimizer"] = {**run.config["optimizer"], "lr": 0.125}
    run.summary["added_metric"] = 0.75
    run.summary["loss"] = 1.5
    run.tags = [*(run.tags or []), "conformance"]
    run.name = "renamed-by-update"
    run.notes = "updated notes"
    run.group = "new-group"
    run.job_type = "eval"
    server.clear_requests()
    run.update()

    upserts = [v for n, v in server.requests if n == "UpsertBucket"]
    assert len(upserts) == 2, operations(server)
    sent_config = json.loads(upserts[0]["config"])
    assert sent_config["new_key"] == {"value": {"nested": [1, 2.5, "x"]}, "desc": None}
    assert upserts[0]["id"] == run.storage_id
    assert json.loads(upserts[1]["summaryMetrics"])["added_metric"] == 0.75

    api.flush()
    back = api.run(f"{PATH}/{rec['id']}")
    expected_config = {**rec["config"], "new_key": {"nested": [1, 2.5, "x"]},
                       "optimizer": {**rec["config"]["optimizer"], "lr": 0.125}}
    assert same(dict(back.config), expected_config) == []
    expected_summary = {**rec["summary"], "added_metric": 0.75, "loss": 1.5}
    assert same(back.summary._json_dict, expected_summary) == []
    assert back.tags == [*rec.get("tags", []), "conformance"]
    assert back.name == "renamed-by-update"
    assert back.notes == "updated notes"
    assert back.group == "new-group"
    assert back.job_type == "eval"

    # The listing (a different resolver path) sees the update too.
    api.flush()
    listed = {r.id: r for r in api.runs(PATH, filters={"tags": "conformance"}, lazy=False)}
    assert set(listed) == {rec["id"]}
    assert listed[rec["id"]].summary._json_dict["added_metric"] == 0.75
