"""Listing runs: pagination, counts, order, projections, single runs and the run mutations."""

from __future__ import annotations

import base64
import json
from typing import Any

from server_support import ENTITY, PROJECT, Client, make_runs

from wandb_frames.testing import LocalServer

RUNS_Q = """
query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50, $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    internalId runCount(filters: $filters) readOnly
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { projectId id name displayName state createdAt } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""


def runs_page(gql: Client, **variables: Any) -> dict[str, Any]:
    base = {"project": PROJECT, "entity": ENTITY}
    project: dict[str, Any] = gql(RUNS_Q, {**base, **variables})["data"]["project"]
    return project


def all_names(gql: Client, per_page: int, **variables: Any) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        page = runs_page(gql, cursor=cursor, perPage=per_page, **variables)["runs"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return names
        cursor = page["edges"][-1]["cursor"]


def test_cursors_are_arrayconnection_offsets(gql: Client) -> None:
    page = runs_page(gql, perPage=3, order="+created_at")["runs"]
    cursors = [base64.b64decode(e["cursor"]).decode() for e in page["edges"]]
    assert cursors == ["arrayconnection:0", "arrayconnection:1", "arrayconnection:2"]
    assert page["pageInfo"] == {"endCursor": page["edges"][-1]["cursor"], "hasNextPage": True}
    nxt = runs_page(gql, perPage=3, order="+created_at", cursor=page["edges"][-1]["cursor"])["runs"]
    assert base64.b64decode(nxt["edges"][0]["cursor"]).decode() == "arrayconnection:3"
    assert [e["node"]["name"] for e in nxt["edges"]] == ["run003", "run004", "run005"]


def test_paging_covers_every_run_once(gql: Client) -> None:
    names = all_names(gql, 7, order="+created_at")
    assert names == [f"run{i:03d}" for i in range(20)]


def test_last_page_has_no_next(gql: Client) -> None:
    page = runs_page(gql, perPage=20, order="+created_at")["runs"]
    assert len(page["edges"]) == 20 and page["pageInfo"]["hasNextPage"] is False


def test_default_first_is_50_and_order_default_newest_first(gql: Client) -> None:
    doc = 'query { project(name: "proj", entityName: "ent") { runs { edges { node { name } } } } }'
    names = [e["node"]["name"] for e in gql(doc)["data"]["project"]["runs"]["edges"]]
    assert names == [f"run{i:03d}" for i in reversed(range(20))]


def test_ties_are_broken_by_run_id_in_both_directions(gql: Client) -> None:
    up = all_names(gql, 3, order="+display_name")
    down = all_names(gql, 3, order="-displayName")
    assert up[:5] == ["run000", "run004", "run008", "run012", "run016"]
    assert down[:5] == ["run003", "run007", "run011", "run015", "run019"]
    assert sorted(up) == sorted(down) == [f"run{i:03d}" for i in range(20)]


def test_order_by_config_and_summary(gql: Client) -> None:
    assert all_names(gql, 50, order="-config.lr")[0] == "run019"
    assert all_names(gql, 50, order="+config.lr.value")[0] == "run000"
    assert all_names(gql, 50, order="+summary_metrics.loss")[0] == "run019"


def test_missing_values_sort_first_ascending(fresh: LocalServer) -> None:
    fresh.add_runs(ENTITY, PROJECT, [{"id": "nokey", "created_at": "2030-01-01T00:00:00Z"}])
    names = all_names(Client(fresh), 50, order="+summary_metrics.loss")
    assert names[0] == "nokey"
    assert all_names(Client(fresh), 50, order="-summary_metrics.loss")[-1] == "nokey"


def test_run_count_with_filters(gql: Client) -> None:
    project = runs_page(gql, filters=json.dumps({"state": "running"}), perPage=1)
    assert project["runCount"] == 4
    assert runs_page(gql, filters="{}", perPage=1)["runCount"] == 20
    assert project["internalId"] and project["readOnly"] is False
    assert project["runs"]["edges"][0]["node"]["projectId"] == project["internalId"]


def test_config_and_summary_projection(gql: Client) -> None:
    doc = """query($e: String!, $p: String!) { project(name: $p, entityName: $e) { run(name: "run002") {
      all: config  some: config(keys: ["lr", "missing"])  s: summaryMetrics(keys: ["loss"])  sys: systemMetrics } } }"""
    run = gql(doc, {"e": ENTITY, "p": PROJECT})["data"]["project"]["run"]
    full = json.loads(run["all"])
    assert full["lr"] == {"value": 0.003, "desc": None}
    assert full["model"] == {"value": {"layers": 2, "act": "relu"}, "desc": None}
    assert json.loads(run["some"]) == {"lr": {"value": 0.003, "desc": None}}
    assert json.loads(run["s"]) == {"loss": 1 / 3}
    assert json.loads(run["sys"]) == {"cpu": 12.0}


def test_non_finite_floats_are_bare_in_json_strings(fresh: LocalServer) -> None:
    fresh.add_runs(ENTITY, PROJECT, [{"id": "nan", "summary": {"a": float("nan"), "b": float("inf")}}])
    doc = 'query { project(name: "proj", entityName: "ent") { run(name: "nan") { summaryMetrics } } }'
    text = Client(fresh)(doc)["data"]["project"]["run"]["summaryMetrics"]
    assert text == '{"a":NaN,"b":Infinity}'


def test_run_fields(gql: Client) -> None:
    doc = """query { project(name: "proj", entityName: "ent") { run(name: "run003") {
      id name displayName state tags group jobType host createdAt heartbeatAt updatedAt computeSeconds
      historyLineCount user { name username } readOnly sweepName notes commit description } } }"""
    run = gql(doc)["data"]["project"]["run"]
    assert base64.b64decode(run["id"]).decode() == "Run:v1:run003:proj:ent"
    assert run["createdAt"] == "2024-01-01T03:00:00Z"
    assert run["heartbeatAt"] == "2024-01-01T03:03:00Z"
    assert run["computeSeconds"] == 180.0
    assert run["tags"] == ["odd", "x"] and run["historyLineCount"] == 10
    assert run["user"] == {"name": "local-user", "username": "local-user"}


def test_unknown_project_and_run_are_null(gql: Client) -> None:
    assert gql('query { project(name: "nope", entityName: "ent") { name } }') == {"data": {"project": None}}
    doc = 'query { project(name: "proj", entityName: "ent") { run(name: "nope") { name } } }'
    assert gql(doc) == {"data": {"project": {"run": None}}}


UPDATE = """mutation UpsertBucket($id: String!, $display_name: String, $notes: String, $tags: [String!],
  $config: JSONString!, $groupName: String, $jobType: String) {
  upsertBucket(input: {id: $id, displayName: $display_name, notes: $notes, tags: $tags, config: $config,
    groupName: $groupName, jobType: $jobType}) { bucket { id name displayName tags config group jobType notes } } }"""


def test_upsert_bucket_create_update_and_read_back(fresh: LocalServer) -> None:
    gql = Client(fresh)
    create = """mutation UpsertBucket($project: String, $entity: String, $name: String!, $state: String) {
      upsertBucket(input: {modelName: $project, entityName: $entity, name: $name, state: $state}) {
        bucket { project { name entity { name } } id name } inserted } }"""
    made = gql(create, {"project": "newp", "entity": "ent", "name": "abc", "state": "pending"})["data"]["upsertBucket"]
    assert made["inserted"] is True and made["bucket"]["project"] == {"name": "newp", "entity": {"name": "ent"}}
    config = json.dumps({"lr": {"value": 0.5, "desc": None}, "_wandb": {"value": {"v": 1}}})
    out = gql(UPDATE, {"id": made["bucket"]["id"], "display_name": "renamed", "tags": ["t1"], "config": config,
                       "groupName": "G", "jobType": None, "notes": "hello"})["data"]["upsertBucket"]["bucket"]
    assert out["displayName"] == "renamed" and out["tags"] == ["t1"] and out["group"] == "G"
    assert json.loads(out["config"])["lr"] == {"value": 0.5, "desc": None}
    summary = """mutation UpsertBucket($id: String, $summaryMetrics: JSONString) {
      upsertBucket(input: {id: $id, summaryMetrics: $summaryMetrics}) { bucket { id } } }"""
    gql(summary, {"id": made["bucket"]["id"], "summaryMetrics": json.dumps({"loss": 0.25})})
    read = 'query { project(name: "newp", entityName: "ent") { runCount run(name: "abc") { state summaryMetrics notes } } }'
    project = gql(read)["data"]["project"]
    assert project["runCount"] == 1
    assert project["run"] == {"state": "pending", "summaryMetrics": '{"loss":0.25}', "notes": "hello"}
    again = gql(create, {"project": "newp", "entity": "ent", "name": "abc", "state": "running"})
    assert again["data"]["upsertBucket"]["inserted"] is False


def test_update_run_state_and_delete(fresh: LocalServer) -> None:
    gql = Client(fresh)
    rid = gql('query { project(name: "proj", entityName: "ent") { run(name: "run001") { id } } }')
    storage_id = rid["data"]["project"]["run"]["id"]
    upd = "mutation UpdateRunState($input: UpdateRunStateInput!) { updateRunState(input: $input) { success } }"
    assert gql(upd, {"input": {"id": storage_id, "state": "crashed"}})["data"]["updateRunState"]["success"]
    count = 'query { project(name: "proj", entityName: "ent") { runCount(filters: "{\\"state\\": \\"crashed\\"}") } }'
    assert gql(count)["data"]["project"]["runCount"] == 1
    gql("mutation DeleteRun($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }", {"id": storage_id})
    assert gql(count)["data"]["project"]["runCount"] == 0


def test_writes_invalidate_cached_listings(fresh: LocalServer) -> None:
    gql = Client(fresh)
    assert len(all_names(gql, 2, order="+created_at")) == 6
    fresh.add_runs(ENTITY, PROJECT, make_runs(8)[6:])
    assert len(all_names(gql, 2, order="+created_at")) == 8


def test_upsert_model_creates_project(fresh: LocalServer) -> None:
    gql = Client(fresh)
    doc = """mutation CreateProject($input: UpsertModelInput!) { result: upsertModel(input: $input) {
      project { id name entityName } inserted } }"""
    out = gql(doc, {"input": {"name": "made", "entityName": "ent"}})["data"]["result"]
    assert out["inserted"] is True and out["project"]["name"] == "made"
    assert gql('query { project(name: "made", entityName: "ent") { runCount } }')["data"]["project"]["runCount"] == 0
