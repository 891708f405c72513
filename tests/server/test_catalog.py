"""Projects, viewer, files, sweeps, artifacts and reports, mostly through the official documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml  # type: ignore[import-untyped]
from server_support import Client, make_runs

from wandb_frames.testing import LocalServer

DOCS = json.loads((Path(__file__).with_name("data") / "client_documents_wandb-0.31.0.json").read_text())["documents"]
E, P = "ent", "cat"
SWEEP_CONFIG = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"lr": {"values": [1e-05, 0.001]}, "wd": {"value": 1e-6}, "n": {"values": [1, 2]}}}


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    runs = make_runs(6)
    for r in runs[:4]:
        r["sweep"] = "sw1"
    with LocalServer() as server:
        server.add_runs(E, P, runs)
        server.add_sweeps(E, P, [{"id": "sw1", "method": "grid", "state": "FINISHED",
                                  "config": SWEEP_CONFIG},
                                 {"id": "sw2", "method": "bayes", "state": "RUNNING"}])
        server.add_artifacts(E, P, [
            {"name": "clf", "type": "model", "logged_by": "run001", "metadata": {"acc": 0.9}, "size": 10},
            {"name": "clf", "type": "model", "logged_by": "run002", "aliases": ["best"]},
            {"name": "data", "type": "dataset", "used_by": ["run001", "run003"]},
        ])
        server.add_reports(E, P, [{"id": "Vmlldzox", "name": "r1", "display_name": "My report",
                                   "spec": {"blocks": [1]}, "created_at": "2024-02-01T00:00:00Z"}])
        yield server


@pytest.fixture(scope="module")
def gql(srv: LocalServer) -> Client:
    return Client(srv)


def run_doc(gql: Client, key: str, variables: dict[str, Any]) -> Any:
    body = gql(DOCS[key], variables)
    assert "errors" not in body, body
    return body["data"]


def test_get_projects_and_project(gql: Client) -> None:
    data = run_doc(gql, "GetProjects", {"entity": E, "cursor": None, "perPage": 200})
    assert [e["node"]["name"] for e in data["models"]["edges"]] == [P]
    assert data["models"]["pageInfo"]["__typename"] == "PageInfo"
    project = run_doc(gql, "GetProject", {"name": P, "entity": E})["project"]
    assert project["entityName"] == E and project["isBenchmark"] is False


def test_get_viewer(gql: Client) -> None:
    viewer = run_doc(gql, "GetViewer", {})["viewer"]
    assert viewer["username"] == "local-user" and viewer["apiKeys"] == {"edges": []}


def test_run_files_and_download(srv: LocalServer, gql: Client) -> None:
    base = {"project": P, "entity": E, "name": "run001", "fileCursor": None, "fileLimit": 50,
            "fileNames": [], "upload": False}
    run = run_doc(gql, "RunFiles", {**base, "pattern": None})["project"]["run"]
    assert run["fileCount"] == 2
    nodes = [e["node"] for e in run["files"]["edges"]]
    assert [n["name"] for n in nodes] == ["output.log", "wandb-metadata.json"]
    meta = nodes[1]
    assert requests.get(meta["url"], timeout=10).json() == {"host": "node-1"}
    assert meta["sizeBytes"] == len(json.dumps({"host": "node-1"}))
    only = run_doc(gql, "RunFiles", {**base, "pattern": "%.json"})["project"]["run"]["files"]["edges"]
    assert [e["node"]["name"] for e in only] == ["wandb-metadata.json"]
    named = run_doc(gql, "RunFiles", {**base, "fileNames": ["output.log"], "pattern": None})
    assert len(named["project"]["run"]["files"]["edges"]) == 1


def test_get_sweep_and_its_runs(gql: Client) -> None:
    sweep = run_doc(gql, "GetSweep", {"name": "sw1", "project": P, "entity": E})["project"]["sweep"]
    assert sweep["runCount"] == 4 and sweep["method"] == "grid" and sweep["bestLoss"] == 0.25
    # W&B sends YAML, read by the official client with yaml.safe_load (YAML 1.1: JSON's 1e-05 is a str).
    assert yaml.safe_load(sweep["config"]) == SWEEP_CONFIG
    doc = 'query { project(name: "cat", entityName: "ent") { sweep(sweepName: "sw1") { runs(first: 2) { edges { node { name } } pageInfo { hasNextPage } } } } }'
    runs = gql(doc)["data"]["project"]["sweep"]["runs"]
    assert len(runs["edges"]) == 2 and runs["pageInfo"]["hasNextPage"] is True
    filt = json.dumps({"$and": [{"sweep": "sw1"}]})
    count = gql('query($f: JSONString) { project(name: "cat", entityName: "ent") { runCount(filters: $f) } }',
                {"f": filt})
    assert count["data"]["project"]["runCount"] == 4
    missing = gql(DOCS["GetSweep"], {"name": "zzz", "project": P, "entity": E})
    assert missing["data"]["project"]["sweep"] is None


def test_get_sweeps(gql: Client) -> None:
    data = run_doc(gql, "GetSweeps", {"project": P, "entity": E, "filters": "{}", "cursor": None, "perPage": 50})
    assert data["project"]["totalSweeps"] == 2
    assert [e["node"]["name"] for e in data["project"]["sweeps"]["edges"]] == ["sw1", "sw2"]
    doc = 'query($f: JSONString) { project(name: "cat", entityName: "ent") { sweeps(filters: $f) { edges { node { name } } } } }'
    filtered = gql(doc, {"f": json.dumps({"state": "RUNNING"})})["data"]
    assert [e["node"]["name"] for e in filtered["project"]["sweeps"]["edges"]] == ["sw2"]


def test_artifact_types_and_membership(gql: Client) -> None:
    types = run_doc(gql, "ProjectArtifactTypes", {"entity": E, "project": P, "cursor": None, "perPage": 50})
    assert [e["node"]["name"] for e in types["project"]["artifactTypes"]["edges"]] == ["model", "dataset"]
    m = run_doc(gql, "ArtifactMembershipByName", {"entity": E, "project": P, "name": "clf:latest"})
    membership = m["project"]["artifactCollectionMembership"]
    assert membership["versionIndex"] == 1
    assert {a["alias"] for a in membership["aliases"]} == {"best", "latest"}
    assert membership["artifact"]["artifactSequence"]["name"] == "clf"
    v0 = run_doc(gql, "ArtifactMembershipByName", {"entity": E, "project": P, "name": "clf:v0"})
    assert json.loads(v0["project"]["artifactCollectionMembership"]["artifact"]["metadata"]) == {"acc": 0.9}
    none = run_doc(gql, "ArtifactMembershipByName", {"entity": E, "project": P, "name": "clf:v9"})
    assert none["project"]["artifactCollectionMembership"] is None


def test_artifact_lookup_by_digest(gql: Client) -> None:
    def member(name: str) -> Any:
        return run_doc(gql, "ArtifactMembershipByName", {"entity": E, "project": P, "name": name})[
            "project"]["artifactCollectionMembership"]

    digest = member("clf:v0")["artifact"]["digest"]
    assert member(f"clf:{digest}")["versionIndex"] == 0  # e/p/name:<digest>
    bare = member(digest)  # e/p/<digest>: the official client sends the digest alone
    assert (bare["versionIndex"], bare["artifactCollection"]["name"]) == (0, "clf")
    assert member(f"data:{digest}") is None
    doc = 'query($n: String!) { project(name: "cat", entityName: "ent") { artifact(name: $n) { versionIndex } } }'
    assert gql(doc, {"n": digest})["data"]["project"]["artifact"] == {"versionIndex": 0}


def test_artifact_collections_versions_and_lineage(gql: Client) -> None:
    base = {"entity": E, "project": P}
    colls = run_doc(gql, "src:PROJECT_ARTIFACT_COLLECTIONS_GQL", base)["project"]["artifactCollections"]
    assert colls["totalCount"] == 2 and colls["edges"][0]["node"]["type"] == {"name": "model"}
    typed = run_doc(gql, "src:ARTIFACT_TYPE_ARTIFACT_COLLECTIONS_GQL", {**base, "type": "dataset"})
    assert [e["node"]["name"] for e in typed["project"]["artifactType"]["artifactCollections"]["edges"]] == ["data"]
    one = run_doc(gql, "src:PROJECT_ARTIFACT_COLLECTION_GQL", {**base, "type": "model", "name": "clf"})
    assert one["project"]["artifactType"]["artifactCollection"]["__typename"] == "ArtifactSequence"
    versions = run_doc(gql, "src:PROJECT_ARTIFACTS_GQL", {**base, "type": "model", "collection": "clf"})
    arts = versions["project"]["artifactType"]["artifactCollection"]["artifacts"]
    assert [e["version"] for e in arts["edges"]] == ["v1", "v0"]
    art_id = arts["edges"][1]["node"]["id"]
    by_id = run_doc(gql, "src:ARTIFACT_BY_ID_GQL", {"id": art_id})["artifact"]
    assert by_id["versionIndex"] == 0
    creator = run_doc(gql, "src:ARTIFACT_CREATED_BY_GQL", {"id": art_id})["artifact"]["createdBy"]
    assert creator["__typename"] == "Run" and creator["name"] == "run001"
    out = run_doc(gql, "src:RUN_OUTPUT_ARTIFACTS_GQL", {**base, "run": "run002"})["project"]["run"]["artifacts"]
    assert out["totalCount"] == 1
    inputs = run_doc(gql, "src:RUN_INPUT_ARTIFACTS_GQL", {**base, "run": "run003"})["project"]["run"]["artifacts"]
    data_id = inputs["edges"][0]["node"]["id"]
    used = run_doc(gql, "src:ARTIFACT_USED_BY_GQL", {"id": data_id})["artifact"]["usedBy"]["edges"]
    assert [e["node"]["name"] for e in used] == ["run001", "run003"]
    assert run_doc(gql, "src:ARTIFACT_BY_ID_GQL", {"id": "bm9wZQ=="})["artifact"] is None


def test_reports(gql: Client) -> None:
    data = run_doc(gql, "ProjectViews", {"project": P, "entity": E, "reportCursor": None, "reportLimit": 50,
                                         "viewName": None})
    (edge,) = data["project"]["allViews"]["edges"]
    assert edge["node"]["displayName"] == "My report"
    assert json.loads(edge["node"]["spec"]) == {"blocks": [1]}
    assert edge["node"]["createdAt"] == "2024-02-01T00:00:00Z"


def test_console_log_tail_and_other_documents(gql: Client) -> None:
    doc = DOCS["core:query_run_console_logs"]
    body = gql.post(doc, {"entity": E, "project": P, "runName": "run001", "last": 2},
                    operationName="RunConsoleLogTail").json()
    lines = body["data"]["project"]["run"]["logLines"]["edges"]
    assert [e["node"]["line"] for e in lines] == ["b", "c"]
    assert run_doc(gql, "src:IS_PROJECT_READ_ONLY_GQL", {"entity": E, "project": P})["project"]["readOnly"] is False
    info = run_doc(gql, "core:query_run_info", {"entity": E, "project": P, "run": "run002"})
    assert info["project"]["run"]["displayName"] == "name-2"
    users = run_doc(gql, "src:SEARCH_USERS_GQL", {"query": "local"})
    assert users["users"]["edges"][0]["node"]["username"] == "local-user"
    agents = run_doc(gql, "src:GET_SWEEP_AGENTS_GQL", {"sweep": "sw1", "entity": E, "project": P})
    assert agents["project"]["sweep"]["agents"] == {"edges": []}
