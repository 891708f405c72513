"""Incremental refresh: only changed runs are refetched; new and deleted runs are noticed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from wandb_frames import filters as wff
from wandb_frames.cache.store import NON_FINAL_STATES, RunsCache
from wandb_frames.testing import LocalServer

from cache_support import ENTITY, PROJECT, START, changed, fetch, make_api, make_runs, requests_of, same_rows


def test_first_fetch_is_complete_and_matches_an_uncached_fetch(server: LocalServer, cache_dir: Path) -> None:
    cached = fetch(server, cache_dir)
    assert same_rows(cached, fetch(server, None))
    assert cached.column_names == fetch(server, None).column_names
    (info,) = RunsCache(cache_dir).info()
    assert (info.entity, info.project, info.rows, info.complete) == (ENTITY, PROJECT, 40, True)


def test_refresh_asks_only_for_changed_and_unfinished_runs(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    runs = make_runs(40)
    server.add_runs(ENTITY, PROJECT, [changed(runs[3], loss=42.0), changed(runs[17], acc=0.99)])
    server.clear_requests()
    table = fetch(server, cache_dir)
    log = server.requests
    pages = [v for op, v in log if op == "RunsPage"]
    # one page of the heartbeat-ordered scan, no filter, no full listing
    assert [(v["filters"], v["order"]) for v in pages] == [("{}", "-heartbeat_at")]
    assert [op for op, _ in log].count("RunIdsPage") == 0
    assert same_rows(table, fetch(server, None))
    row = wff.apply(table, {"name": "r0003"}).to_pylist()[0]
    assert row["summary.loss"] == 42.0


def test_fallback_filter_is_what_the_server_evaluates(server: LocalServer) -> None:
    """The filter a refresh falls back to (listing shifted too often) selects newer heartbeats."""
    since = START + timedelta(minutes=30, hours=1)
    got = set(fetch(server, None, filters={"heartbeat_at": {"$gte": since}}).column("id").to_pylist())
    expected = {r["id"] for r in make_runs(40) if r["heartbeat_at"] >= since}
    assert got == expected and 0 < len(expected) < 40


def test_deleted_runs_are_dropped(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    project = server.store.project(ENTITY, PROJECT)
    assert project is not None
    server.store.delete_run(project.runs["r0005"])
    server.clear_requests()
    table = fetch(server, cache_dir)
    assert "r0005" not in table.column("id").to_pylist()
    assert "RunIdsPage" in [op for op, _ in requests_of(server)]  # the count disagreed
    assert same_rows(table, fetch(server, None))


def test_new_run_with_an_old_heartbeat_is_found(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    old = make_runs(1, prefix="synced")[0]  # created and last heard of long ago (e.g. wandb sync)
    old["created_at"] = START - timedelta(days=30)
    old["heartbeat_at"] = START - timedelta(days=29)
    old["state"] = "finished"
    server.add_runs(ENTITY, PROJECT, [old])
    table = fetch(server, cache_dir)
    assert table.num_rows == 41 and "synced0000" in table.column("id").to_pylist()
    assert same_rows(table, fetch(server, None))


def test_list_ids_option_always_lists(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    server.clear_requests()
    make_api(server, RunsCache(cache_dir, list_ids=True)).runs(f"{ENTITY}/{PROJECT}").to_arrow()
    ops = [op for op, _ in requests_of(server)]
    assert "RunIdsPage" in ops and "RunCount" not in ops


def test_unfinished_runs_are_always_refetched(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    runs = make_runs(40)
    finished = dict(runs[9], state="finished")  # was running; its heartbeat did not move
    server.add_runs(ENTITY, PROJECT, [finished])
    table = fetch(server, cache_dir)
    row = wff.apply(table, {"name": "r0009"}).to_pylist()[0]
    assert row["state"] == "finished"


def test_type_widening_across_cached_and_fresh_rows(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    runs = make_runs(40)
    record = changed(runs[0])
    record["config"] = {**runs[0]["config"], "layers": 2.5}  # int column gets a float
    server.add_runs(ENTITY, PROJECT, [record])
    table = fetch(server, cache_dir)
    assert str(table.schema.field("config.layers").type) == "double"
    assert same_rows(table, fetch(server, None))


def test_mixed_kinds_become_json_text_like_a_full_fetch(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    record = changed(make_runs(40)[1])
    record["config"] = {**record["config"], "opt": 7}  # a string column gets a number
    server.add_runs(ENTITY, PROJECT, [record])
    with pytest.warns(Warning, match="config.opt"):
        table = fetch(server, cache_dir)
    with pytest.warns(Warning, match="config.opt"):
        fresh = fetch(server, None)
    assert same_rows(table, fresh)
    assert fresh.schema.field("config.opt").metadata == table.schema.field("config.opt").metadata


def test_deltas_are_compacted_and_reload_identically(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    runs = make_runs(40)
    for step in range(12):
        server.add_runs(ENTITY, PROJECT, [changed(runs[step], loss=float(step))])
        table = fetch(server, cache_dir)
    files = sorted(p.name for p in cache_dir.rglob("*.parquet"))
    assert 1 <= len(files) <= RunsCache.compact_files + 1
    reloaded = make_api(server, RunsCache(cache_dir)).runs(f"{ENTITY}/{PROJECT}", offline=True).to_arrow()
    assert same_rows(reloaded, table)
    assert same_rows(table, fetch(server, None))


@pytest.mark.parametrize("overlap", [60.0, 600.0])
def test_watermark_minus_overlap_decides_what_is_refetched(
    server: LocalServer, cache_dir: Path, overlap: float
) -> None:
    fetch(server, cache_dir)
    cache = RunsCache(cache_dir, overlap=overlap)
    cache.compact_fraction = 1.0  # keep the refetched rows in a delta file
    make_api(server, cache).runs(f"{ENTITY}/{PROJECT}").to_arrow()
    (delta,) = cache_dir.rglob("*.d000001.parquet")
    refetched = set(pq.read_table(delta).column("id").to_pylist())
    records = make_runs(40)
    since = max(r["heartbeat_at"] for r in records) - timedelta(seconds=overlap)
    newer = {r["id"] for r in records if r["heartbeat_at"] >= since}
    unfinished = {r["id"] for r in records if r["state"] in NON_FINAL_STATES}
    assert refetched == newer | unfinished
    assert len(newer) == (2 if overlap == 60 else 11)
