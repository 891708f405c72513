"""Run files, artifact lineage/collections/files and ``runs.histories()`` through wandb 0.31.0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformance_support import ENTITY, PROJECT, SEED, operations

from wandb_frames.testing import LocalServer, RunRecord
from wandb_frames.testing.synthetic import synthetic_artifacts

PATH = f"{ENTITY}/{PROJECT}"


def _size(data: str | bytes) -> int:
    return len(data.encode() if isinstance(data, str) else data)


def test_run_files_list_and_download(api: Any, server: LocalServer, records: list[RunRecord],
                                     tmp_path: Path) -> None:
    rec = next(r for r in records if r.get("files"))
    run = api.run(f"{PATH}/{rec['id']}")
    listed = {f.name: f.size for f in run.files()}
    assert listed == {name: _size(data) for name, data in rec["files"].items()}
    assert "RunFiles" in operations(server)
    name, data = next(iter(rec["files"].items()))
    handle = run.file(name).download(root=str(tmp_path), replace=True)
    handle.close()
    expected = data.encode() if isinstance(data, str) else data
    assert (tmp_path / name).read_bytes() == expected


def test_run_artifact_lineage(api: Any, records: list[RunRecord]) -> None:
    arts = synthetic_artifacts(records, seed=SEED)
    logger_id = next(a["logged_by"] for a in arts if a.get("logged_by"))
    run = api.run(f"{PATH}/{logger_id}")
    logged = sorted(f"{a['name']}:v{a['version']}" for a in arts if a.get("logged_by") == logger_id)
    assert sorted(a.name for a in run.logged_artifacts()) == logged
    used = sorted(f"{a['name']}:v{a['version']}" for a in arts if logger_id in a.get("used_by", []))
    assert sorted(a.name for a in run.used_artifacts()) == used


def test_artifact_collections_and_versions(api: Any, records: list[RunRecord]) -> None:
    arts = synthetic_artifacts(records, seed=SEED)
    for type_name in sorted({a["type"] for a in arts}):
        names = {a["name"] for a in arts if a["type"] == type_name}
        assert {c.name for c in api.artifact_collections(PATH, type_name)} == names
        for name in names:
            versions = {f"v{a['version']}" for a in arts if a["name"] == name}
            assert {v.version for v in api.artifacts(type_name, f"{PATH}/{name}")} == versions


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside wandb, under pandas 3.1
def test_runs_histories(api: Any, records: list[RunRecord]) -> None:
    """``Runs.histories()``: one ``RunFullHistory`` per run, rows tagged with ``run_id``."""
    frame = api.runs(PATH, filters={"state": "finished"}).histories(samples=10, format="pandas")
    finished = [r for r in records if r.get("state") == "finished"]
    expected = sum(min(10, len(r.get("history", []))) for r in finished)
    assert len(frame) == expected
    assert set(frame["run_id"]) == {r["id"] for r in finished if r.get("history")}
    steps = {r["id"]: {row["_step"] for row in r.get("history", [])} for r in finished}
    assert all(int(step) in steps[run_id] for run_id, step in zip(frame["run_id"], frame["_step"], strict=True))


def test_artifact_files_listing(api: Any, records: list[RunRecord]) -> None:
    rec = next(a for a in synthetic_artifacts(records, seed=SEED) if a.get("files"))
    art = api.artifact(f"{PATH}/{rec['name']}:v{rec['version']}")
    assert sorted(f.name for f in art.files()) == sorted(rec.get("files", {}))


def test_artifact_download(api: Any, records: list[RunRecord], tmp_path: Path) -> None:
    rec = next(a for a in synthetic_artifacts(records, seed=SEED) if a.get("files"))
    art = api.artifact(f"{PATH}/{rec['name']}:v{rec['version']}")
    root = Path(art.download(root=str(tmp_path / "art")))
    for name, data in rec.get("files", {}).items():
        expected = data.encode() if isinstance(data, str) else data
        assert (root / name).read_bytes() == expected
