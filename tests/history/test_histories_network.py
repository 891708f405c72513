"""Histories over a shaped link: the same long table as run by run, in far fewer requests.

The reference is the per-run fetch (``RunParquetHistory``, its parquet download, the live tail
with ``HistoryPage``): what ``fetch_histories`` sent for every run before it asked for many
runs' exports at once. Every test runs over real HTTP against the local server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import tqdm
from history_support import RECORDS, RequestsExecutor

import wandb_frames as wf
from wandb_frames.errors import ConfigurationError, HTTPStatusError
from wandb_frames.graphql.retry import RetryPolicy
from wandb_frames.history import fetch_histories, fetch_run_long
from wandb_frames.history.batches import EVENTS_BATCH, EXPORT_BATCH
from wandb_frames.testing import Faults, LocalServer, Network, RateLimit

ENTITY, PROJECT = "local", "net"


def _many() -> list[dict[str, Any]]:
    """The handcrafted runs plus enough small ones for two export batches: some running (a
    live tail), some resumed (steps logged twice), some with no history at all."""
    records: list[dict[str, Any]] = [dict(r) for r in RECORDS]
    for i in range(EXPORT_BATCH + 20):
        steps = list(range(8 + i % 5))
        if i % 9 == 0:
            steps += list(range(3, 6))  # resumed: steps 3-5 again, later values win
        rows = [{"_step": s, "_runtime": float(k), "_timestamp": 1.7e9 + k, "loss": 1.0 / (k + i + 1),
                 f"m{i % 3}": float(i * k)} for k, s in enumerate(steps)]
        state = "running" if i % 7 == 0 else "finished"
        record: dict[str, Any] = {"id": f"n{i:03d}", "state": state, "history": rows if i % 11 else []}
        if i % 4 == 0:
            record["system_history"] = [{"_runtime": 10.0 * k, "_timestamp": 1.7e9 + 10 * k, "system.cpu": i + k}
                                        for k in range(3 + i % 6)]
        records.append(record)
    return records


RUN_IDS = [r["id"] for r in _many()]
RUNNING = sum(r.get("state") == "running" and bool(r.get("history")) for r in _many())


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, _many())
        yield srv


def _run_by_run(executor: RequestsExecutor, run_ids: list[str]) -> pa.Table:
    parts = [fetch_run_long(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=r).table
             for r in run_ids]
    return pa.concat_tables(parts)


def _identical(a: pa.Table, b: pa.Table) -> bool:
    """Same schema, same rows in the same order, NaN equal to NaN (``Table.equals`` says no)."""
    return a.schema == b.schema and repr(a.to_pydict()) == repr(b.to_pydict())


def _ops(server: LocalServer) -> Counter[str]:
    return Counter(op or "" for op, _ in server.requests)


def test_batched_histories_equal_run_by_run_in_fewer_requests(server: LocalServer) -> None:
    executor = RequestsExecutor(server.url, server.api_key)
    server.clear_requests()
    server.reset_traffic()
    reference = _run_by_run(executor, RUN_IDS)
    before = _ops(server)
    before_downloads = server.traffic.downloads
    assert before["RunParquetHistory"] == len(RUN_IDS)

    server.clear_requests()
    server.reset_traffic()
    table = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=RUN_IDS).to_arrow()
    assert _identical(table, reference)
    assert table.num_rows > 1000 and len(set(table.column("run_id").to_pylist())) > EXPORT_BATCH
    after = _ops(server)
    assert after == Counter({"RunsParquetHistory": 2, "HistoryPage": RUNNING})
    assert server.traffic.downloads == before_downloads  # one download per exported run, as before
    assert sum(after.values()) < sum(before.values()) / 4


def test_system_rows_of_many_runs_come_in_batches(server: LocalServer) -> None:
    executor = RequestsExecutor(server.url, server.api_key)
    parts = [fetch_run_long(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=r, stream="system").table
             for r in RUN_IDS]
    server.clear_requests()
    table = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=RUN_IDS,
                            stream="system").to_arrow()
    assert _identical(table, pa.concat_tables(parts)) and table.num_rows > 100
    assert _ops(server) == Counter({"RunsEvents": -(-len(RUN_IDS) // EVENTS_BATCH)})


def test_a_batch_too_large_to_send_is_asked_for_run_by_run(server: LocalServer) -> None:
    """A gateway that refuses answers over 2 KB: every run's own system rows fit (at most 1.2 KB),
    25 runs' rows do not; the histories are the same, nothing fails."""
    executor = RequestsExecutor(server.url, server.api_key)
    reference = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=RUN_IDS,
                                stream="system").to_arrow()
    executor.api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
                          retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02))
    server.set_network(Network(max_answer_bytes=2000))
    try:
        server.clear_requests()
        server.reset_traffic()
        table = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=RUN_IDS,
                                stream="system").to_arrow()
        refused = server.traffic.statuses.get(502, 0)
        ops = _ops(server)
    finally:
        server.set_network(None)
    assert _identical(table, reference) and table.num_rows > 100
    assert refused > 0 and ops["RunsEvents"] >= 2, ops  # refused batches, then the next batch still asked
    assert sum(n for op, n in ops.items() if op != "RunsEvents") > 0  # their runs, one by one


def test_runs_histories_over_latency_asks_for_ids_not_the_table(server: LocalServer) -> None:
    executor = RequestsExecutor(server.url, server.api_key)
    reference = _run_by_run(executor, RUN_IDS)
    server.set_network(Network(latency=0.02))
    try:
        server.clear_requests()
        api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
        table = api.runs(f"{ENTITY}/{PROJECT}").history_frames().to_arrow()
    finally:
        server.set_network(None)
    assert _identical(table, reference)
    assert _ops(server) == Counter({"RunIdsPage": 1, "RunsParquetHistory": 2, "HistoryPage": RUNNING})


def test_a_rate_limit_slows_histories_down_and_never_fails_them() -> None:
    # A server without the parquet export: every run costs its own requests (the batch fails,
    # then RunParquetHistory fails, RunHistoryKeys, HistoryPage), well over the bucket.
    records = _many()[:14]
    with LocalServer(entity=ENTITY, parquet_export=False) as srv:
        srv.add_runs(ENTITY, PROJECT, records)
        ids = [r["id"] for r in records]
        executor = RequestsExecutor(srv.url, srv.api_key)
        reference = _run_by_run(executor, ids)
        srv.set_network(Network(latency=0.01, rate_limit=RateLimit(rate=20, burst=4)))
        srv.reset_traffic()
        api = wf.Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        table = api.runs(f"{ENTITY}/{PROJECT}").history_frames().to_arrow()
        traffic = srv.traffic
    assert _identical(table, reference)
    assert traffic.rate_limited > 0
    assert set(traffic.statuses) <= {200, 429}
    assert api.transport.limiter.decreases >= 1


def test_a_progress_bar_counts_the_runs(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bars: list[tqdm.tqdm[Any]] = []

    class Recorded(tqdm.tqdm):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=True)
    api.runs(f"{ENTITY}/{PROJECT}").history_frames().to_arrow()
    history_bars = [b for b in bars if str(b.desc).startswith("histories")]
    assert len(history_bars) == 1
    bar = history_bars[0]
    assert bar.desc == f"histories {ENTITY}/{PROJECT}" and bar.total == len(RUN_IDS) and bar.n == len(RUN_IDS)
    assert f"histories {ENTITY}/{PROJECT}:" in capsys.readouterr().err  # drawn on stderr
    silent = wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
    bars.clear()
    silent.runs(f"{ENTITY}/{PROJECT}").history_frames().to_arrow()
    assert bars == []


def test_retries_and_deadline_are_settable_on_the_api() -> None:
    api = wf.Api(api_key="local-" + "k" * 40, overrides={"base_url": "http://127.0.0.1:9"}, max_retries=2,
                 retry_deadline=7.5)
    assert api.transport.retry.max_attempts == 3 and api.transport.retry.deadline == 7.5
    base = wf.RetryPolicy(base_delay=0.25)
    tuned = wf.Api(api_key="local-" + "k" * 40, retry=base, max_retries=0)
    assert tuned.transport.retry == wf.RetryPolicy(base_delay=0.25, max_attempts=1)
    for bad in ({"max_retries": -1}, {"max_retries": 1.5}, {"retry_deadline": 0}, {"retry_deadline": float("nan")}):
        with pytest.raises(ConfigurationError):
            wf.Api(api_key="local-" + "k" * 40, **bad)


def test_max_retries_bounds_the_attempts_against_a_failing_server() -> None:
    with LocalServer(entity=ENTITY, faults=Faults(server_error=1.0, statuses=(503,))) as srv:
        api = wf.Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False,
                     retry=wf.RetryPolicy(base_delay=0.01), max_retries=2)
        with pytest.raises(HTTPStatusError):
            api.run(f"{ENTITY}/{PROJECT}/r0")  # one request: the first attempt and two retries
        assert srv.fault_counts["server_error"] == 3


@pytest.mark.filterwarnings("ignore::wandb_frames.errors.UnknownKeyWarning")  # runs that never logged loss
@pytest.mark.parametrize(
    ("kwargs", "batch_op", "single_op"),
    [({}, "RunsFullHistory", "RunFullHistory"),
     ({"keys": ["loss"]}, "RunsSampledHistory", "RunSampledHistory"),
     ({"stream": "system"}, "RunsFullEvents", "RunFullEvents")],
)
def test_wandb_runs_histories_are_each_runs_history_in_batches(
    server: LocalServer, kwargs: dict[str, Any], batch_op: str, single_op: str
) -> None:
    api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
    runs = api.runs(f"{ENTITY}/{PROJECT}")
    expected: list[dict[str, Any]] = []
    for run in runs:
        rows = run.history(samples=7, pandas=False, **kwargs)
        assert isinstance(rows, list)
        expected += [{**row, "run_id": run.id} for row in rows]
    server.clear_requests()
    server.set_network(Network(latency=0.02))
    try:
        got = api.runs(f"{ENTITY}/{PROJECT}").histories(samples=7, **kwargs)
    finally:
        server.set_network(None)
    assert repr(got) == repr(expected) and len(got) > 100
    ops = _ops(server)
    assert ops[batch_op] == -(-len(RUN_IDS) // 50)
    # only runs with no row for the keys are asked alone (wandb's own check of the keys)
    no_loss = sum(not any("loss" in row for row in r.get("history") or []) for r in _many())
    assert ops[single_op] == (no_loss if "keys" in kwargs else 0)
