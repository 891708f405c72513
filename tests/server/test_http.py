"""HTTP layer: auth, bodies, gzip, operation names, variables, GraphQL features, selection sets."""

from __future__ import annotations

import base64
import gzip
import json
import logging

import pytest
import requests
from server_support import ENTITY, PROJECT, Client

from wandb_frames.testing import LocalServer

RUN_Q = "query Run($e: String!, $p: String!, $n: String!) { project(name: $p, entityName: $e) { run(name: $n) { name displayName } } }"
VARS = {"e": ENTITY, "p": PROJECT, "n": "run001"}


def test_wrong_or_missing_key_gets_401(server: LocalServer) -> None:
    url = server.url + "/graphql"
    body = {"query": "{ viewer { id } }"}
    assert requests.post(url, json=body, timeout=10).status_code == 401
    bad = requests.post(url, json=body, auth=("api", "local-" + "x" * 40), timeout=10)
    assert bad.status_code == 401
    assert "errors" in bad.json()
    assert requests.post(url, json=body, auth=("api", server.api_key), timeout=10).status_code == 200


def test_bearer_key_is_accepted(server: LocalServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = requests.post(server.url + "/graphql", json={"query": "{ viewer { username } }"}, headers=headers,
                             timeout=10)
    assert response.json() == {"data": {"viewer": {"username": "local-user"}}}


def test_random_key_format() -> None:
    srv = LocalServer()
    assert srv.api_key.startswith("local-") and len(srv.api_key) == 46
    assert srv.api_key not in repr(srv)
    assert LocalServer().api_key != srv.api_key


def test_key_never_logged(server: LocalServer, gql: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        gql(RUN_Q, VARS)
        requests.post(server.url + "/graphql", json={"query": "{ viewer { id } }"}, auth=("api", "wrong"), timeout=10)
    assert caplog.records, "request logging should go to the logging module"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert server.api_key not in text
    assert base64.b64encode(f"api:{server.api_key}".encode()).decode() not in text
    assert server.api_key not in repr(server.requests)


@pytest.mark.parametrize("extra", [{"operationName": ""}, {}, {"operationName": None}])
def test_operation_name_derived(server: LocalServer, gql: Client, extra: dict[str, object]) -> None:
    body: dict[str, object] = {"query": "#graphql\n  # a comment\n" + RUN_Q, "variables": VARS, **extra}
    server.clear_requests()
    response = gql.session.post(server.url + "/graphql", json=body, timeout=10)
    assert response.json()["data"]["project"]["run"]["name"] == "run001"
    assert server.requests[-1][0] == "Run"


def test_explicit_operation_name_picks_operation(server: LocalServer, gql: Client) -> None:
    doc = "query A { viewer { username } } query B { viewer { entity } }"
    assert gql.post(doc, operationName="B").json() == {"data": {"viewer": {"entity": "local"}}}
    assert gql.post(doc).status_code == 400


def test_undeclared_variables_are_ignored(gql: Client) -> None:
    data = gql(RUN_Q, {**VARS, "filters": "{}", "junk": [1, 2]})
    assert data["data"]["project"]["run"]["displayName"] == "name-1"


def test_variables_key_may_be_absent(server: LocalServer, gql: Client) -> None:
    response = gql.session.post(server.url + "/graphql", json={"query": "query Viewer { viewer { id entity } }",
                                                               "operationName": "Viewer"}, timeout=10)
    assert response.json()["data"]["viewer"]["entity"] == "local"


def test_aliases_fragments_directives_typename(gql: Client) -> None:
    doc = """
    query Q($e: String!, $p: String!, $yes: Boolean!) {
      p: project(name: $p, entityName: $e) {
        __typename
        first: run(name: "run001") { ...F  cfg: config @include(if: $yes)  tags @skip(if: $yes) }
        second: run(name: "run002") { ... on Run { n: name } }
      }
    }
    fragment F on Run { __typename name state }
    """
    data = gql(doc, {"e": ENTITY, "p": PROJECT, "yes": True})["data"]["p"]
    assert data["__typename"] == "Project"
    assert data["first"]["__typename"] == "Run" and data["first"]["name"] == "run001"
    assert "cfg" in data["first"] and "tags" not in data["first"]
    assert data["second"] == {"n": "run002"}


def test_selection_set_is_honoured(gql: Client) -> None:
    node = gql(RUN_Q, VARS)["data"]["project"]["run"]
    assert set(node) == {"name", "displayName"}


def test_unknown_field_is_a_400_validation_error(gql: Client) -> None:
    response = gql.post("{ viewer { nope } }")
    assert response.status_code == 400
    assert "nope" in response.json()["errors"][0]["message"]


def test_non_json_body_is_400(server: LocalServer, gql: Client) -> None:
    response = gql.session.post(server.url + "/graphql", data=b"{not json", timeout=10)
    assert response.status_code == 400
    assert gql.session.post(server.url + "/graphql", json=[1], timeout=10).status_code == 400


def test_gzip_request_and_response(server: LocalServer, gql: Client) -> None:
    doc = "query R($e: String!, $p: String!) { project(name: $p, entityName: $e) { runs(first: 20) { edges { node { config } } } } }"
    raw = gzip.compress(json.dumps({"query": doc, "variables": {"e": ENTITY, "p": PROJECT}}).encode())
    response = gql.session.post(server.url + "/graphql", data=raw, timeout=10, headers={
        "Content-Encoding": "gzip", "Content-Type": "application/json", "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == "gzip"
    assert len(response.json()["data"]["project"]["runs"]["edges"]) == 20


def test_small_responses_are_not_gzipped(gql: Client) -> None:
    response = gql.post("{ viewer { id } }")
    assert "Content-Encoding" not in response.headers


def test_otel_probe_is_404(server: LocalServer) -> None:
    assert requests.post(server.url + "/sdk/otel/v1/metrics", data=b"", timeout=10).status_code == 404


def test_missing_required_variable_is_an_error(gql: Client) -> None:
    response = gql.post(RUN_Q, {"e": ENTITY})
    assert response.status_code == 400
    assert response.json()["errors"]


def test_bad_cursor_is_a_graphql_error_with_path(gql: Client) -> None:
    doc = 'query { project(name: "proj", entityName: "ent") { runs(after: "bogus") { edges { cursor } } } }'
    body = gql(doc)
    assert body["errors"][0]["path"] == ["project", "runs"]
    assert body["data"] == {"project": {"runs": None}}


def test_bootstrap_queries(gql: Client) -> None:
    viewer = gql("query Viewer { viewer { id entity username email flags teams { edges { node { name } } } } }")
    assert viewer["data"]["viewer"]["teams"]["edges"][0]["node"]["name"] == "local"
    features = gql("query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }")
    names = {f["name"]: f["isEnabled"] for f in features["data"]["serverInfo"]["features"]}
    assert names["SWEEPS_QUERY_FILTERING"] is True
