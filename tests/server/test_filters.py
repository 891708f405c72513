"""The server's filter key rules (through HTTP) and the pure functions of ``testing.mongo``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from server_support import ENTITY, PROJECT, Client, make_runs

from wandb_frames.testing.mongo import ServerFilterError, normalize_filter, run_to_document, select_ids

COUNT = "query($e: String!, $p: String!, $f: JSONString) { project(name: $p, entityName: $e) { runCount(filters: $f) } }"
LIST = """query($e: String!, $p: String!, $f: JSONString) { project(name: $p, entityName: $e) {
  runs(filters: $f, order: "+name", first: 100) { edges { node { name } } } } }"""


def names(gql: Client, filters: Any) -> list[str]:
    data = gql(LIST, {"e": ENTITY, "p": PROJECT, "f": json.dumps(filters)})
    return [e["node"]["name"] for e in data["data"]["project"]["runs"]["edges"]]


def count(gql: Client, filters: Any) -> int:
    result: int = gql(COUNT, {"e": ENTITY, "p": PROJECT, "f": json.dumps(filters)})["data"]["project"]["runCount"]
    return result


def status(gql: Client, filters: Any) -> int:
    return gql.post(COUNT, {"e": ENTITY, "p": PROJECT, "f": filters if isinstance(filters, str) else
                            json.dumps(filters)}).status_code


def test_config_key_with_and_without_value(gql: Client) -> None:
    assert names(gql, {"config.lr": {"$gt": 0.0175}}) == ["run017", "run018", "run019"]
    assert names(gql, {"config.lr.value": {"$gt": 0.0175}}) == ["run017", "run018", "run019"]


def test_nested_config(gql: Client) -> None:
    assert count(gql, {"config.model.layers": 2}) == 6
    assert count(gql, {"config.model.value.layers": 2}) == 6


def test_summary_metrics(gql: Client) -> None:
    assert names(gql, {"summary_metrics.loss": {"$lt": 0.058}}) == ["run017", "run018", "run019"]


def test_summary_prefix_is_400(gql: Client) -> None:
    response = gql.post(COUNT, {"e": ENTITY, "p": PROJECT, "f": json.dumps({"summary.loss": {"$lt": 1}})})
    assert response.status_code == 400
    assert "summary_metrics" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(("camel", "snake", "value"), [
    ("createdAt", "created_at", {"$gte": "2024-01-01T18:00:00Z"}),
    ("displayName", "display_name", "name-1"),
    ("jobType", "job_type", "eval"),
    ("heartbeatAt", "heartbeat_at", {"$lt": "2024-01-01T01:00:00"}),
])
def test_camel_and_snake_keys_agree(gql: Client, camel: str, snake: str, value: Any) -> None:
    a, b = names(gql, {camel: value}), names(gql, {snake: value})
    assert a == b and 0 < len(a) < 20


def test_name_is_the_run_id(gql: Client) -> None:
    assert names(gql, {"name": "run005"}) == ["run005"]
    assert names(gql, {"id": "run005"}) == []


def test_display_name(gql: Client) -> None:
    assert names(gql, {"display_name": "name-3"}) == ["run003", "run007", "run011", "run015", "run019"]


def test_tags_string_is_membership(gql: Client) -> None:
    assert count(gql, {"tags": "x"}) == 10
    assert count(gql, {"tags": {"$ne": "x"}}) == 10


def test_tags_in(gql: Client) -> None:
    assert count(gql, {"tags": {"$in": ["even", "x"]}}) == 20
    assert count(gql, {"tags": {"$nin": ["even"]}}) == 10


def test_tags_list_is_500(gql: Client) -> None:
    response = gql.post(COUNT, {"e": ENTITY, "p": PROJECT, "f": json.dumps({"tags": ["x"]})})
    assert response.status_code == 500
    assert "unsupported type []interface {}" in response.json()["errors"][0]["message"]


def test_all_operator_is_500(gql: Client) -> None:
    assert status(gql, {"tags": {"$all": ["odd", "x"]}}) == 500


def test_malformed_filters_string_is_400(gql: Client) -> None:
    assert status(gql, "{not json") == 400
    assert status(gql, "[1, 2]") == 400


def test_iso_date_comparison_on_created_at(gql: Client) -> None:
    got = names(gql, {"$and": [{"created_at": {"$gt": "2024-01-01T02:30:00"}}, {"createdAt": {"$lt": "2024-01-01T05:00:00Z"}}]})
    assert got == ["run003", "run004"]


def test_unknown_key_matches_nothing(gql: Client) -> None:
    assert count(gql, {"Name": "run001"}) == 0
    assert count(gql, {"bogus": {"$exists": False}}) == 0


def test_regex(gql: Client) -> None:
    assert names(gql, {"display_name": {"$regex": "^name-[2]$"}}) == ["run002", "run006", "run010", "run014", "run018"]


def test_logical_operators_and_other_run_keys(gql: Client) -> None:
    assert count(gql, {"$or": [{"state": "running"}, {"group": "g1"}]}) == 12
    assert count(gql, {"$nor": [{"host": "node-0"}]}) == 10
    assert count(gql, {"duration": {"$gte": 600}}) == 10
    assert count(gql, {"username": "local-user"}) == 20
    assert count(gql, {"system_metrics.cpu": {"$gt": 28}}) == count(gql, {"systemMetrics.cpu": {"$gt": 28}}) == 1


# ---------------------------------------------------------------- pure functions


def test_run_to_document_shape() -> None:
    doc = run_to_document(make_runs(2)[1], entity="e", project="p")
    assert doc["config"]["lr"] == {"value": 0.002, "desc": None}
    assert doc["summary_metrics"]["loss"] == 0.5
    assert doc["createdAt"] == datetime(2024, 1, 1, 1) and doc["tags"] == ["odd", "x"]
    assert run_to_document({"id": "a"}, entity="e", project="p")["tags"] == []


def test_normalize_filter_rules() -> None:
    assert normalize_filter({"config.a.b": 1}) == {"config.a.value.b": 1}
    assert normalize_filter({"config.a.value.b": 1}) == {"config.a.value.b": 1}
    assert normalize_filter({"created_at": {"$gt": "2024-01-02T00:00:00Z"}}) == {
        "createdAt": {"$gt": datetime(2024, 1, 2)}}
    assert normalize_filter(normalize_filter({"job_type": "x", "config.k": 1})) == normalize_filter(
        {"job_type": "x", "config.k": 1})
    with pytest.raises(ServerFilterError) as info:
        normalize_filter({"$or": [{"summary.loss": 1}]})
    assert info.value.status == 400


def test_select_ids_keeps_input_order() -> None:
    docs = [run_to_document(r, entity="e", project="p") for r in reversed(make_runs(6))]
    assert select_ids({"state": "finished"}, docs) == ["run004", "run003", "run002", "run001"]
    assert select_ids({}, docs)[0] == "run005"
