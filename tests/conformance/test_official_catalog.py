"""Projects, sweeps, artifacts and reports through wandb 0.31.0 against the seeded local server."""

from __future__ import annotations

from typing import Any

from conformance_support import (
    ENTITY,
    LONG_PROJECT,
    PROJECT,
    SEED,
    WRITE_PROJECT,
    as_utc,
    mongo_sort_key,
    operations,
    same,
)

from wandb_frames.testing import LocalServer, RunRecord
from wandb_frames.testing.synthetic import synthetic_artifacts, synthetic_reports, synthetic_sweeps

PATH = f"{ENTITY}/{PROJECT}"


def test_projects(api: Any, server: LocalServer) -> None:
    projects = list(api.projects(ENTITY))
    assert {p.name for p in projects} == {PROJECT, WRITE_PROJECT, LONG_PROJECT}
    assert all(p.entity == ENTITY for p in projects)
    assert operations(server) == ["GetProjects"]
    project = api.project(PROJECT, ENTITY)
    assert project.id
    assert "GetProject" in operations(server)


def test_sweeps_attributes_and_runs(api: Any, records: list[RunRecord]) -> None:
    seeded = synthetic_sweeps(records)
    assert seeded
    for rec in seeded:
        sweep = api.sweep(f"{PATH}/{rec['id']}")
        assert sweep.id == rec["id"]
        assert sweep.name == rec["display_name"]
        assert sweep.state == rec["state"]
        assert sweep.method == rec["method"]
        assert same(sweep.config, rec["config"]) == []
        assert sweep.expected_run_count == rec.get("run_count_expected")
        assert as_utc(sweep.created_at) == as_utc(rec["created_at"])
        members = [r for r in records if r.get("sweep") == rec["id"]]
        listed = list(sweep.runs)
        assert sorted(r.id for r in listed) == sorted(r["id"] for r in members)
        created = [as_utc(r.created_at) for r in listed]
        assert created == sorted(created), "sweep.runs is ordered by +created_at (ties unspecified)"
        api.flush()


def test_sweep_best_run(api: Any, server: LocalServer, records: list[RunRecord]) -> None:
    """``best_run()`` sends ``Runs`` ordered by the sweep metric with ``perPage: 1``."""
    rec = synthetic_sweeps(records)[0]
    metric = rec["config"]["metric"]
    assert metric["goal"] == "minimize"
    members = [r for r in records if r.get("sweep") == rec["id"]]
    best_key = min(mongo_sort_key(r["summary"].get(metric["name"])) for r in members)
    server.clear_requests()
    best = api.sweep(f"{PATH}/{rec['id']}").best_run()
    assert best.id in {r["id"] for r in members}
    # Ties (several runs without the metric) may resolve to any of them.
    assert mongo_sort_key(best.summary._json_dict.get(metric["name"])) == best_key
    runs_vars = [v for n, v in server.requests if n == "Runs"]
    assert runs_vars[-1]["order"] == f"+summary_metrics.{metric['name']}"
    assert runs_vars[-1]["perPage"] == 1
    assert runs_vars[-1]["filters"] == '{"$and": [{"sweep": "%s"}]}' % rec["id"]


def test_project_sweeps(api: Any, server: LocalServer, records: list[RunRecord]) -> None:
    sweeps = api.project(PROJECT, ENTITY).sweeps()
    assert {s.id for s in sweeps} == {s["id"] for s in synthetic_sweeps(records)}
    assert "ServerFeaturesQuery" in operations(server)
    assert "GetSweeps" in operations(server)


def test_artifact_types(api: Any, records: list[RunRecord]) -> None:
    types = {t.name for t in api.artifact_types(PATH)}
    assert types == {a["type"] for a in synthetic_artifacts(records, seed=SEED)}


def _seeded_artifact(records: list[RunRecord], name: str, alias: str) -> dict[str, Any]:
    versions = [a for a in synthetic_artifacts(records, seed=SEED) if a["name"] == name]
    if alias.startswith("v") and alias[1:].isdigit():
        return dict(next(a for a in versions if a["version"] == int(alias[1:])))
    return dict(next(a for a in versions if alias in a.get("aliases", [])))


def test_artifact_by_alias_and_version(api: Any, server: LocalServer, records: list[RunRecord]) -> None:
    for name, alias in (("classifier", "best"), ("classifier", "latest"), ("train-data", "v1")):
        rec = _seeded_artifact(records, name, alias)
        art = api.artifact(f"{PATH}/{name}:{alias}")
        assert art.type == rec["type"]
        assert art.version == f"v{rec['version']}"
        assert art.digest == rec["digest"]
        assert art.size == rec["size"]
        assert art.description == rec.get("description")
        assert same(art.metadata, rec.get("metadata", {})) == []
        assert set(rec.get("aliases", [])) <= set(art.aliases)
        assert as_utc(art.created_at) == as_utc(rec["created_at"])
    assert "ArtifactMembershipByName" in operations(server)


def test_artifact_lineage(api: Any, records: list[RunRecord]) -> None:
    """``logged_by()`` / ``used_by()`` follow the seeded lineage."""
    rec = _seeded_artifact(records, "classifier", "best")
    art = api.artifact(f"{PATH}/classifier:best")
    logger = art.logged_by()
    assert logger is not None and logger.id == rec["logged_by"]
    data = _seeded_artifact(records, "train-data", "v0")
    users = api.artifact(f"{PATH}/train-data:v0").used_by()
    assert sorted(r.id for r in users) == sorted(data["used_by"])


def test_reports(api: Any, server: LocalServer) -> None:
    seeded = synthetic_reports(seed=SEED)
    reports = list(api.reports(PATH))
    assert len(reports) == len(seeded)
    got = {r.display_name: r for r in reports}
    for rec in seeded:
        report = got[rec["display_name"]]
        assert report.description == rec.get("description")
        assert same(report.spec, rec["spec"]) == []
        assert as_utc(report.updated_at) == as_utc(rec["updated_at"])
    assert operations(server) == ["ProjectViews"]
    assert server.requests[0][1]["project"] == PROJECT
