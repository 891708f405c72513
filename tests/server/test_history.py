"""History paths: history, sampledHistory, events, historyKeys, parquetHistory (+ GET of the file)."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.parquet as pq
import requests
from server_support import ENTITY, PROJECT, Client, make_runs

from wandb_frames.testing import LocalServer


def run_field(gql: Client, selection: str, run: str = "run001", **variables: Any) -> Any:
    decl = "".join(f", ${k}: {t}" for k, (t, _) in variables.items())
    doc = f"query($e: String!, $p: String!, $n: String!{decl}) {{ project(name: $p, entityName: $e) {{ run(name: $n) {{ {selection} }} }} }}"
    values = {k: v for k, (_, v) in variables.items()}
    return gql(doc, {"e": ENTITY, "p": PROJECT, "n": run, **values})["data"]["project"]["run"]


def test_full_history_is_json_strings(gql: Client) -> None:
    rows = run_field(gql, "history(samples: 500)")["history"]
    assert all(isinstance(r, str) for r in rows)
    parsed = [json.loads(r) for r in rows]
    assert [r["_step"] for r in parsed] == list(range(10))
    assert parsed[1] == {"_step": 1, "_runtime": 1.0, "loss": 0.5, "acc": 0.1}


def test_history_step_range_is_end_exclusive(gql: Client) -> None:
    rows = run_field(gql, "history(minStep: $lo, maxStep: $hi, samples: $s)",
                     lo=("Int64", 2), hi=("Int64", 5), s=("Int", 100))["history"]
    assert [json.loads(r)["_step"] for r in rows] == [2, 3, 4]


def test_history_downsampling_is_deterministic(gql: Client) -> None:
    a = run_field(gql, "history(samples: 4)")["history"]
    b = run_field(gql, "history(samples: 4)")["history"]
    steps = [json.loads(r)["_step"] for r in a]
    assert a == b and len(steps) == 4 and steps[0] == 0 and steps[-1] == 9


def test_sampled_history_needs_all_keys_and_max_is_inclusive(gql: Client) -> None:
    spec = json.dumps({"keys": ["_step", "acc", "_step"], "minStep": 0, "maxStep": 5, "samples": 100})
    out = run_field(gql, "sampledHistory(specs: $specs)", specs=("[JSONString!]!", [spec]))["sampledHistory"]
    assert out == [[{"_step": 1, "acc": 0.1}, {"_step": 3, "acc": 0.3}, {"_step": 5, "acc": 0.5}]]


def test_sampled_history_several_specs(gql: Client) -> None:
    specs = [json.dumps({"keys": ["_step", "loss"], "samples": 3}), json.dumps({"keys": ["nope"], "samples": 3})]
    out = run_field(gql, "sampledHistory(specs: $specs)", specs=("[JSONString!]!", specs))["sampledHistory"]
    assert [r["_step"] for r in out[0]] == [0, 4, 9]
    assert out[1] == []


def test_events_are_system_history(gql: Client) -> None:
    rows = [json.loads(r) for r in run_field(gql, "events(samples: 500)")["events"]]
    assert rows[2] == {"_runtime": 2.0, "system.cpu": 10.0}


def test_history_keys(gql: Client) -> None:
    keys = run_field(gql, "historyKeys")["historyKeys"]
    assert keys["lastStep"] == 9
    assert keys["keys"]["acc"] == {"typeCounts": [{"type": "number", "count": 5}]}
    assert keys["keys"]["loss"]["typeCounts"][0]["count"] == 10


def test_parquet_history_finished_run(server: LocalServer, gql: Client) -> None:
    out = run_field(gql, "parquetHistory(liveKeys: $k) { parquetUrls liveData }",
                    k=("[String!]!", ["_step"]))["parquetHistory"]
    assert out["liveData"] == []
    (url,) = out["parquetUrls"]
    assert url.startswith(server.url)
    response = requests.get(url, timeout=10)  # presigned-like: no credentials
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column("_step").to_pylist() == list(range(10))
    assert table.column("acc").to_pylist()[:3] == [None, 0.1, None]


def test_parquet_history_running_run_keeps_live_rows(gql: Client) -> None:
    out = run_field(gql, "parquetHistory(liveKeys: $k) { parquetUrls liveData }", run="run000",
                    k=("[String!]!", ["_step", "loss"]))["parquetHistory"]
    assert out["liveData"] == [{"_step": 8, "loss": 1 / 9}, {"_step": 9, "loss": 0.1}]
    table = pq.read_table(io.BytesIO(requests.get(out["parquetUrls"][0], timeout=10).content))
    assert table.column("_step").to_pylist() == list(range(8))


def test_parquet_url_with_wrong_token_is_404(server: LocalServer) -> None:
    assert requests.get(server.url + "/parquet/wrongtoken/ent/proj/run001/x.parquet", timeout=10).status_code == 404


def test_run_without_history(fresh: LocalServer) -> None:
    fresh.add_runs(ENTITY, PROJECT, [{"id": "empty"}])
    out = run_field(Client(fresh), "historyKeys history parquetHistory(liveKeys: [\"_step\"]) { parquetUrls liveData }",
                    run="empty")
    assert out == {"historyKeys": {"keys": {}}, "history": [], "parquetHistory": {"parquetUrls": [], "liveData": []}}


# ------------------------------------------------------------ running runs: exported rows vs live rows
# run000 is running: steps 0..7 are in its parquet file, 8..9 are live (see the server docstring).


def _steps(rows: list[str]) -> list[int]:
    return [json.loads(r)["_step"] for r in rows]


def test_ranged_history_of_a_running_run_serves_only_live_rows(gql: Client) -> None:
    query = "history(minStep: $lo, maxStep: $hi, samples: $s)"
    full = run_field(gql, query, run="run000", lo=("Int64", 0), hi=("Int64", 10), s=("Int", 10))
    assert _steps(full["history"]) == [8, 9]
    page = run_field(gql, query, run="run000", lo=("Int64", 5), hi=("Int64", 9), s=("Int", 4))
    assert _steps(page["history"]) == [8]
    before = run_field(gql, query, run="run000", lo=("Int64", 0), hi=("Int64", 8), s=("Int", 8))
    assert before["history"] == []


def test_unranged_history_of_a_running_run_serves_every_row(gql: Client) -> None:
    assert _steps(run_field(gql, "history(samples: 500)", run="run000")["history"]) == list(range(10))


def test_ranged_sampled_history_of_a_running_run_serves_only_live_rows(gql: Client) -> None:
    ranged = json.dumps({"keys": ["_step", "acc", "_step"], "minStep": 0, "maxStep": 9, "samples": 10})
    whole = json.dumps({"keys": ["_step", "acc"], "samples": 500})
    out = run_field(gql, "sampledHistory(specs: $specs)", run="run000",
                    specs=("[JSONString!]!", [ranged, whole]))["sampledHistory"]
    assert out[0] == [{"_step": 9, "acc": 0.9}]
    assert [r["_step"] for r in out[1]] == [1, 3, 5, 7, 9]


def test_server_without_parquet_export_serves_every_row_in_ranges() -> None:
    with LocalServer(parquet_export=False) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(1))  # run000 is running
        client = Client(srv)
        rows = run_field(client, "history(minStep: $lo, maxStep: $hi, samples: $s)", run="run000",
                         lo=("Int64", 0), hi=("Int64", 10), s=("Int", 10))["history"]
        assert _steps(rows) == list(range(10))
        doc = ('query { project(name: "proj", entityName: "ent") { run(name: "run000") '
               '{ parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } }')
        body = client(doc)
        assert body["errors"] and body["data"]["project"]["run"] is None
