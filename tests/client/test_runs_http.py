"""Runs over real HTTP against the local server: pages, limit, dedup, errors, projection."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import orjson
import pytest
import requests
from graphql import parse

from tests.client.conftest import ENTITY, START, simple_runs
from wandb_frames.api import Api
from wandb_frames.errors import (
    AuthenticationError,
    ConfigurationError,
    HTTPStatusError,
    NotFoundError,
    UnknownKeyWarning,
)
from wandb_frames.tabular import RUN_COLUMNS
from wandb_frames.testing import LocalServer


def _ops(server: LocalServer, name: str) -> list[dict[str, Any]]:
    return [v for op, v in server.requests if op == name]


def test_a_table_is_one_id_snapshot_then_heavy_batches(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    table = api.runs("local/many", per_page=20).to_arrow()
    ids = table["id"].to_pylist()
    assert ids == [f"r{i:05d}" for i in range(230)]
    snapshots = _ops(server, "RunIdsPage")
    assert len(snapshots) == 1 and snapshots[0]["withCount"] is True  # runCount fetched once
    # per_page 20 < TABLE_BATCH: the first page of 500 (asked for beside the snapshot) holds
    # every run, and matches the snapshot: nothing is asked for by name
    pages = _ops(server, "RunsPage")
    assert len(pages) == 1 and pages[0]["first"] == 500 and pages[0]["after"] is None
    assert pages[0]["withCount"] is False and pages[0]["filters"] == "{}"


def test_iteration_fetches_per_page_runs_per_request(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    assert [run.id for run in api.runs("local/many", per_page=20)] == [f"r{i:05d}" for i in range(230)]
    pages = _ops(server, "RunsPage")
    first = [p for p in pages if p["after"] is None and p["filters"] == "{}"]
    assert len(first) == 1 and first[0]["first"] == 20  # the first page, beside the snapshot
    by_name = sorted(len(orjson.loads(p["filters"])["name"]["$in"]) for p in pages if p not in first)
    assert by_name == [10] + [20] * 10  # the other 210 runs by name, sent side by side
    assert len(_ops(server, "RunIdsPage")) == 1


def test_values_are_typed_and_correct(api: Api) -> None:
    df = api.runs("local/small").to_pandas()
    assert list(df.columns[: len(RUN_COLUMNS)]) == list(RUN_COLUMNS)
    assert df["config.lr"].dtype == "float64" and df["config.model.layers"].dtype == "int64"
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"
    assert all(isinstance(t, pd.ArrowDtype) for t in api.runs("local/small").to_pandas(dtype_backend="pyarrow").dtypes)
    row = df[df["id"] == "r00003"].iloc[0]
    assert row["config.lr"] == 0.004 and row["config.opt"] == "adam"
    assert row["config.model.layers"] == 4
    assert math.isclose(row["summary.loss"], 0.25)
    assert row["system.cpu"] == 3.0
    assert row["created_at"] == pd.Timestamp(START + timedelta(minutes=3))
    assert row["state"] == "crashed" and row["entity"] == "local" and row["project"] == "small"


def test_limit_is_distinct_from_page_size(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    table = api.runs("local/many", per_page=20, limit=45).to_arrow()
    assert table.num_rows == 45
    assert table["id"].to_pylist() == [f"r{i:05d}" for i in range(45)]
    assert len(_ops(server, "RunsPage")) <= 4  # stops fetching once the limit is reached


def test_a_limit_within_one_page_is_one_request(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    runs = api.runs("local/many", limit=45)
    table = runs.to_arrow()
    assert table["id"].to_pylist() == [f"r{i:05d}" for i in range(45)]
    sent = [(op, v.get("first"), v.get("withCount")) for op, v in server.requests if op != "GetDefaultEntity"]
    assert sent == [("RunsPage", 45, True)]  # no ID snapshot: one page is one consistent query
    assert len(runs) == 45


def test_len_uses_run_count_once(api: Api, server: LocalServer) -> None:
    runs = api.runs("local/many", filters={"state": "crashed"})
    server.clear_requests()
    assert len(runs) == len([i for i in range(230) if i % 3 == 0])
    assert len(runs) == len(runs)
    assert [op for op, _ in server.requests] == ["RunCount"]
    assert len(api.runs("local/many", limit=7)) == 7


def test_runs_is_lazy_and_cached_until_flush(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    runs = api.runs("local/small", per_page=5)
    assert server.requests == []
    assert api.runs("local/small", per_page=5) is runs
    first = runs.to_arrow()
    assert runs.to_arrow() is first
    api.flush()
    assert api.runs("local/small", per_page=5) is not runs


def test_iteration_yields_runs_and_is_fresh_each_time(api: Api) -> None:
    runs = api.runs("local/small", per_page=5)
    first = [r.id for r in runs]
    assert first == [r.id for r in runs] == [f"r{i:05d}" for i in range(12)]
    run = next(iter(runs))
    assert repr(run) == "<Run local/small/r00000 (crashed)>"
    assert run.config == {"lr": 0.001, "opt": "sgd", "model": {"layers": 1}}


def test_duplicates_across_pages_are_dropped(server: LocalServer) -> None:
    """Inserting newer runs between pages under -created_at shifts the offset window."""
    server.add_runs(ENTITY, "shifting", simple_runs(60))
    session = requests.Session()
    inserted: list[int] = []
    once = threading.Lock()  # the ID snapshot and the first page are answered side by side

    def insert_after_first_page(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with once:
            if inserted or b'"runs"' not in response.content:
                return
            later = START + timedelta(days=30)
            server.add_runs(ENTITY, "shifting", simple_runs(7, prefix="new", start=later))
            inserted.append(7)

    session.hooks["response"].append(insert_after_first_page)
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, session=session)
    table = api.runs("local/shifting", order="-created_at", per_page=10).to_arrow()
    ids = table["id"].to_pylist()
    assert inserted == [7]
    assert len(ids) == len(set(ids))  # none twice
    old = {f"r{i:05d}" for i in range(60)}
    assert old <= set(ids) <= old | {f"new{i:05d}" for i in range(7)}  # none lost; new ones at most once


def test_empty_project_keeps_run_columns(api: Api) -> None:
    table = api.runs("local/empty").to_arrow()
    assert table.num_rows == 0
    assert table.column_names[: len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    df = api.runs("local/empty").to_pandas()
    assert list(df.columns) == table.column_names and len(df) == 0


def test_unknown_project_raises_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        api.runs("local/nope").to_arrow()
    assert info.value.what == "project local/nope"
    with pytest.raises(NotFoundError):
        len(api.runs("local/nope"))


def test_unknown_run_raises_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        api.run("local/small/zzz")
    assert info.value.what == "run local/small/zzz"
    with pytest.raises(NotFoundError):
        api.run("local/nope/zzz")


def test_single_run_fields(api: Api, server: LocalServer) -> None:
    run = api.run("local/small/r00004")
    assert (run.id, run.name, run.entity, run.project) == ("r00004", "run-4", "local", "small")
    assert run.path == ["local", "small", "r00004"]  # a list, as wandb
    assert run.url == f"{server.url}/local/small/runs/r00004"
    assert run.config["lr"] == 0.005 and run.summary["loss"] == 0.2
    assert run.system_metrics == {"cpu": 4.0}
    assert run.tags == ["even"] and run.state == "finished"
    # the server's ISO text, as wandb gives it; typed in to_dict() and in the frames
    assert isinstance(run.created_at, str)
    assert datetime.fromisoformat(run.created_at.replace("Z", "+00:00")) == START + timedelta(minutes=4)
    assert run.to_dict()["created_at"] == START + timedelta(minutes=4)
    assert run.metadata == {"host": "node-0", "gpu_count": 1}
    assert "_wandb" not in run.config
    assert run.to_dict()["config"] == run.config


def test_default_entity_and_project_fallbacks(server: LocalServer) -> None:
    api = Api(api_key=server.api_key, overrides={"base_url": server.url, "project": "small"},
              progress=False)
    server.clear_requests()
    assert api.run("r00001").path == ["local", "small", "r00001"]
    assert api.default_entity == "local"
    assert [op for op, _ in server.requests].count("GetDefaultEntity") == 1
    assert api.runs().to_arrow().num_rows == 12


def test_wrong_key_is_an_authentication_error_without_the_key(server: LocalServer) -> None:
    bad = "local-" + "x" * 40
    api = Api(api_key=bad, overrides={"base_url": server.url}, progress=False)
    with pytest.raises(AuthenticationError) as info:
        api.runs("local/small").to_arrow()
    assert info.value.status_code == 401
    assert info.value.__cause__ is None and info.value.__context__ is None  # no request kept
    for text in (str(info.value), repr(info.value), repr(api), repr(api.settings)):
        assert bad not in text and server.api_key not in text


def test_missing_key_is_a_configuration_error(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent")
    api = Api(overrides={"base_url": server.url}, progress=False)
    with pytest.raises(ConfigurationError):
        api.runs("local/small").to_arrow()


def test_invalid_document_names_the_operation(api: Api) -> None:
    with pytest.raises(HTTPStatusError) as info:  # the local server answers 400 to invalid documents
        api.execute(parse("query BrokenOne { viewer { noSuchField } }"), {})
    assert info.value.operation == "BrokenOne"
    assert "BrokenOne" in str(info.value) and "noSuchField" in str(info.value)


def test_projection_sends_keys_and_keeps_selected_columns(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    runs = api.runs("local/small", columns=["id", "config.lr", "summary.loss", "summary.nope"])
    with pytest.warns(UnknownKeyWarning, match="summary.nope"):  # a key no run has: kept, all null, warned
        table = runs.to_arrow()
    assert table.column_names == ["id", "config.lr", "summary.loss", "summary.nope"]
    assert table["config.lr"].to_pylist()[:2] == [0.001, 0.002]
    assert table["summary.nope"].null_count == 12
    page = _ops(server, "RunsPage")[0]  # (the warning's one unprojected sample page comes after)
    assert page["configKeys"] == ["lr"] and page["summaryKeys"] == ["loss", "nope"]
    assert page["withSystem"] is False


def test_projection_globs_and_metadata(api: Api) -> None:
    table = api.runs("local/small", columns=["id", "summary.*", "metadata.*"]).to_arrow()
    assert table.column_names == ["id", "summary.loss", "summary.acc", "metadata.host", "metadata.gpu_count"]
    assert table["metadata.host"].to_pylist()[:3] == ["node-0", "node-1", "node-0"]


def test_filters_and_order_end_to_end(api: Api) -> None:
    runs = api.runs("local/many", filters={"config.lr": {"$gt": 0.1}, "state": "finished"},
                    order="-summary_metrics.loss", per_page=25)
    df = runs.to_pandas()
    expected = [r for r in simple_runs(230) if r["config"]["lr"] > 0.1 and r["state"] == "finished"]
    expected.sort(key=lambda r: -r["summary"]["loss"])
    assert df["id"].tolist() == [r["id"] for r in expected]


def test_concurrent_fetch_equals_sequential(api: Api) -> None:
    seq = api.runs("local/many", per_page=30, concurrency=0).to_arrow()
    par = api.runs("local/many", per_page=30, concurrency=3).to_arrow()
    assert par.column_names == seq.column_names
    assert par.to_pylist() == seq.to_pylist()
    lim = api.runs("local/many", per_page=30, concurrency=3, limit=50).to_arrow()
    assert lim["id"].to_pylist() == seq["id"].to_pylist()[:50]


def test_to_parquet_round_trips(api: Api, tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "runs.parquet"
    runs = api.runs("local/small")
    runs.to_parquet(path)
    assert pq.read_table(path).select(["id", "config.lr"]).to_pylist() == \
        runs.to_arrow().select(["id", "config.lr"]).to_pylist()


def test_local_filter_part_is_applied_after_fetch(api: Api, server: LocalServer) -> None:
    spec = {"state": "finished", "tags": {"$size": 1}}
    runs = api.runs("local/many", filters=spec, order="-config.lr", per_page=40)
    assert runs.filter_plan.local is not None and runs.filter_plan.server is not None
    expected = [r for r in simple_runs(230) if r["state"] == "finished" and len(r["tags"]) == 1]
    expected.sort(key=lambda r: -r["config"]["lr"])
    assert runs.to_arrow()["id"].to_pylist() == [r["id"] for r in expected]
    assert len(runs) == len(expected)
    limited = api.runs("local/many", filters=spec, order="-config.lr", per_page=40, limit=10)
    assert limited.to_arrow()["id"].to_pylist() == [r["id"] for r in expected[:10]]
    assert [r.id for r in limited] == [r["id"] for r in expected[:10]]


def test_bad_filter_fails_before_any_request(api: Api, server: LocalServer) -> None:
    from wandb_frames.errors import FilterError

    server.clear_requests()
    with pytest.raises(FilterError):
        api.runs("local/many", filters={"config.lr": {"$nope": 1}})
    assert server.requests == []


def test_limit_zero_sends_no_request_and_keeps_run_columns(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    table = api.runs("local/many", limit=0).to_arrow()
    assert table.num_rows == 0
    assert {"id", "name", "state", "created_at"} <= set(table.column_names)
    assert not [op for op, _ in server.requests if op != "GetDefaultEntity"]
