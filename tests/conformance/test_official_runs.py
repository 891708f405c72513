"""``wandb.Api().runs(...)`` and ``api.run(...)`` (wandb 0.31.0) against the seeded local server."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conformance_support import ENTITY, PROJECT, as_utc, operations, same

from wandb_frames.testing import LocalServer, RunRecord

PATH = f"{ENTITY}/{PROJECT}"


def _check_run(run: Any, rec: RunRecord, *, heavy: bool) -> list[str]:
    """Differences between an official ``Run`` and its seed record."""
    diffs: list[str] = []
    expect = {
        "id": rec["id"],
        "name": rec.get("display_name", rec["id"]),
        "state": rec.get("state", "finished"),
        "tags": rec.get("tags") or [],
        "group": rec.get("group"),
        "job_type": rec.get("job_type"),
        "sweep_name": rec.get("sweep"),
        "notes": rec.get("notes"),
        "commit": rec.get("commit"),
    }
    got = {key: getattr(run, key) for key in expect}
    got["tags"] = list(got["tags"] or [])
    diffs += same(got, expect, f"run {rec['id']}")
    if as_utc(run.created_at) != as_utc(rec["created_at"]):
        diffs.append(f"run {rec['id']}: created_at {run.created_at!r} != {rec['created_at']!r}")
    if "heartbeat_at" in rec and as_utc(run.heartbeat_at) != as_utc(rec["heartbeat_at"]):
        diffs.append(f"run {rec['id']}: heartbeat_at {run.heartbeat_at!r} != {rec['heartbeat_at']!r}")
    if rec.get("user") and run.user.username != rec["user"]:
        diffs.append(f"run {rec['id']}: user {run.user.username!r} != {rec['user']!r}")
    if heavy:
        diffs += same(dict(run.config), rec.get("config", {}), f"run {rec['id']} config")
        diffs += same(run.summary._json_dict, rec.get("summary", {}), f"run {rec['id']} summary")
        diffs += same(run.system_metrics, rec.get("system_metrics", {}), f"run {rec['id']} systemMetrics")
    return diffs


def _expected_ids(records: list[RunRecord], keep: Any, key: Any, reverse: bool) -> list[str]:
    chosen = [r for r in records if keep(r)]
    return [r["id"] for r in sorted(chosen, key=key, reverse=reverse)]


def _finished_big_batch(rec: RunRecord) -> bool:
    return rec.get("state") == "finished" and rec["config"]["data"]["batch_size"] >= 64


def test_runs_lazy_filter_and_order(api: Any, server: LocalServer, records: list[RunRecord],
                                    by_id: dict[str, RunRecord]) -> None:
    """Default (lazy) listing: ids in order, len = runCount, every field after the N+1 load."""
    filters = {"state": "finished", "config.data.batch_size": {"$gte": 64}}
    expected = _expected_ids(records, _finished_big_batch, lambda r: r["summary"]["acc"], True)
    assert len(expected) >= 8, "seed too small for this test"
    assert all(math.isfinite(by_id[i]["summary"]["acc"]) for i in expected)

    runs = api.runs(PATH, filters=filters, order="-summary_metrics.acc", per_page=5)
    assert len(runs) == len(expected)
    listed = list(runs)
    assert [r.id for r in listed] == expected
    ops = operations(server)
    assert ops.count("Runs") == math.ceil(len(expected) / 5)
    assert "Run" not in ops, "a lazy listing must not load runs one by one before access"

    diffs = [d for run in listed for d in _check_run(run, by_id[run.id], heavy=True)]
    assert diffs == []
    assert operations(server).count("Run") == len(expected), "lazy runs load with one Run query each"


def test_runs_full_filter_and_order(api: Any, server: LocalServer, records: list[RunRecord],
                                    by_id: dict[str, RunRecord]) -> None:
    """``lazy=False``: heavy fields arrive with the listing (no per-run ``Run`` query)."""
    filters = {"$or": [{"state": {"$in": ["crashed", "killed", "failed"]}},
                       {"config.model.value.layers": {"$gte": 8}}]}

    def keep(rec: RunRecord) -> bool:
        return rec.get("state") in ("crashed", "killed", "failed") or rec["config"]["model"]["layers"] >= 8

    expected = _expected_ids(records, keep, lambda r: (as_utc(r["created_at"]), r["id"]), True)
    runs = api.runs(PATH, filters=filters, order="-created_at", per_page=7, lazy=False)
    listed = list(runs)
    assert len(runs) == len(expected)
    assert sorted(r.id for r in listed) == sorted(expected)
    created = [as_utc(r.created_at) for r in listed]
    assert created == sorted(created, reverse=True)
    diffs = [d for run in listed for d in _check_run(run, by_id[run.id], heavy=True)]
    assert diffs == []
    assert "Run" not in operations(server)


def test_runs_default_order_is_created_at_ascending(api: Any, records: list[RunRecord]) -> None:
    runs = api.runs(PATH, per_page=50)
    listed = list(runs)
    assert len(runs) == len(records)
    assert sorted(r.id for r in listed) == sorted(r["id"] for r in records)
    created = [as_utc(r.created_at) for r in listed]
    assert created == sorted(created)


def test_runs_summary_order_and_nested_config_key(api: Any, records: list[RunRecord]) -> None:
    """Order by a nested config key, both filter spellings (with and without ``.value``)."""
    plain = list(api.runs(PATH, filters={"config.optimizer.name": "sgd"}, order="+config.optimizer.lr"))
    api.flush()
    wrapped = list(api.runs(PATH, filters={"config.optimizer.value.name": "sgd"},
                            order="+config.optimizer.value.lr"))
    expected = [r["id"] for r in sorted((r for r in records if r["config"]["optimizer"]["name"] == "sgd"),
                                        key=lambda r: r["config"]["optimizer"]["lr"])]
    assert expected
    assert [r.id for r in plain] == expected
    assert [r.id for r in wrapped] == expected


def test_run_by_path(api: Any, server: LocalServer, records: list[RunRecord]) -> None:
    for rec in (records[0], records[-1]):
        run = api.run(f"{PATH}/{rec['id']}")
        assert _check_run(run, rec, heavy=True) == []
    assert operations(server).count("Run") == 2


def test_run_not_found_raises(api: Any) -> None:
    with pytest.raises(Exception) as info:
        api.run(f"{PATH}/doesnotexist").state  # noqa: B018 - the attribute access loads the run
    assert "doesnotexist" in str(info.value) or "not found" in str(info.value).lower()


def test_special_floats_and_media_survive(api: Any, records: list[RunRecord]) -> None:
    """NaN / ±Infinity summary values and ``_type`` media dicts come back as seeded."""
    odd = [r for r in records if any(isinstance(v, float) and not math.isfinite(v)
                                     for v in r["summary"].values())]
    media = [r for r in records if any(isinstance(v, dict) and "_type" in v for v in r["summary"].values())]
    assert odd and media, "seed lacks NaN/Inf or media summaries"
    for rec in (odd[0], media[0]):
        summary = api.run(f"{PATH}/{rec['id']}").summary._json_dict
        assert same(summary, rec["summary"]) == []


def test_runs_entity_from_default_entity(api: Any, server: LocalServer, records: list[RunRecord]) -> None:
    """A path without entity is resolved with ``GetDefaultEntity`` (the viewer's entity)."""
    api.default_entity  # noqa: B018 - may be cached from earlier tests
    runs = api.runs(PROJECT, per_page=100)
    assert len(runs) == len(records)
    assert {r.id for r in runs} == {r["id"] for r in records}
