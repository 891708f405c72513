"""The refresh sends no filtered listing: heartbeat scan, single-run lookups, run count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cache_support import ENTITY, PROJECT, START, changed, fetch, make_api, make_runs, same_rows

from wandb_frames import filters as wff
from wandb_frames.cache.listing import cache_key
from wandb_frames.cache.refresh import CachedRuns, micros, plan_scan
from wandb_frames.cache.store import CacheKey, RunsCache
from wandb_frames.testing import LocalServer

UNFILTERED = ("{}", None)  # RunsPage/RunCount/RunIdsPage send "{}"; CacheRun has no filter


def refresh(server: LocalServer, cache: Any) -> tuple[Any, list[tuple[str | None, dict[str, Any]]]]:
    """One refresh through a fresh Api; the table and the requests it sent."""
    server.clear_requests()
    table = fetch(server, cache)
    log = server.requests
    assert all(v.get("filters") in UNFILTERED for _, v in log), log  # never a filtered listing
    return table, log


def ops(log: list[tuple[str | None, dict[str, Any]]]) -> list[str | None]:
    return [op for op, _ in log]


def test_changed_run_is_refreshed_by_the_scan(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    server.add_runs(ENTITY, PROJECT, [changed(make_runs(40)[12], loss=-1.0)])
    table, log = refresh(server, cache_dir)
    assert wff.apply(table, {"name": "r0012"}).column("summary.loss").to_pylist() == [-1.0]
    assert [v["order"] for op, v in log if op == "RunsPage"] == ["-heartbeat_at"]
    assert "RunIdsPage" not in ops(log)
    assert same_rows(table, fetch(server, None))


def test_run_that_ended_without_a_newer_heartbeat_is_looked_up(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    ended = dict(make_runs(40)[9], state="crashed")  # was running; heartbeat far below the scan
    server.add_runs(ENTITY, PROJECT, [ended])
    cache = RunsCache(cache_dir)
    cache.scan_page = 2  # a short scan (a big project): r0009 is far below it
    table, log = refresh(server, cache)
    looked = [v["name"] for op, v in log if op == "CacheRun"]
    assert "r0009" in looked
    assert wff.apply(table, {"name": "r0009"}).column("state").to_pylist() == ["crashed"]
    assert same_rows(table, fetch(server, None))
    # now finished: the next refresh no longer looks it up
    _, log = refresh(server, cache)
    assert "r0009" not in [v["name"] for op, v in log if op == "CacheRun"]


def test_deleted_runs_are_dropped_without_a_filter(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    project = server.store.project(ENTITY, PROJECT)
    assert project is not None
    server.store.delete_run(project.runs["r0004"])  # finished: found by the count + ID listing
    server.store.delete_run(project.runs["r0019"])  # unfinished: its lookup finds nothing
    table, log = refresh(server, cache_dir)
    ids = table.column("id").to_pylist()
    assert "r0004" not in ids and "r0019" not in ids and len(ids) == 38
    assert {"RunCount", "RunIdsPage", "CacheRun"} <= set(ops(log))
    assert same_rows(table, fetch(server, None))


def test_new_run_with_an_old_heartbeat_is_looked_up(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    old = dict(make_runs(1, prefix="late")[0], state="finished")
    old["created_at"], old["heartbeat_at"] = START - timedelta(days=9), START - timedelta(days=8)
    server.add_runs(ENTITY, PROJECT, [old])
    cache = RunsCache(cache_dir)
    cache.scan_page = 2
    table, log = refresh(server, cache)
    assert "late0000" in table.column("id").to_pylist()
    assert "late0000" in [v["name"] for op, v in log if op == "CacheRun"]
    assert same_rows(table, fetch(server, None))


def test_unchanged_small_project_is_one_scan_page_and_a_count(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    table, log = refresh(server, cache_dir)
    assert same_rows(table, fetch(server, None))
    assert sorted(str(op) for op in ops(log)) == ["RunCount", "RunsPage"]  # the scan reached the unfinished runs


def test_scan_restarts_when_deletions_shift_the_window(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs deleted ahead of the offset window would make it skip a changed run."""
    with LocalServer(entity=ENTITY) as server:
        records = [dict(r, state="finished") for r in make_runs(40)]
        server.add_runs(ENTITY, PROJECT, records)
        fetch(server, cache_dir)
        now = datetime.now(UTC)
        server.add_runs(ENTITY, PROJECT, [
            dict(changed(records[i], loss=100.0 + i), heartbeat_at=now + timedelta(seconds=i)) for i in range(6)
        ])  # scan order now: r0005 … r0000, r0039, …
        cache = RunsCache(cache_dir)
        cache.scan_page = 2  # first page: 2 + the 2 runs within the overlap = 4 runs
        api = make_api(server, cache)
        send = api.execute
        scans: list[int] = []

        def execute(document: Any, variables: Any) -> Any:
            answer = send(document, variables)
            if document.operation == "RunsPage" and variables.get("order") == "-heartbeat_at":
                scans.append(len(answer["project"]["runs"]["edges"]))
                if len(scans) == 1:  # a concurrent writer deletes three runs the scan has read
                    project = server.store.project(ENTITY, PROJECT)
                    assert project is not None
                    for name in ("r0005", "r0004", "r0003"):
                        server.store.delete_run(project.runs[name])
            return answer

        monkeypatch.setattr(api, "execute", execute)
        table = api.runs(f"{ENTITY}/{PROJECT}").to_arrow()
        losses = dict(zip(table.column("id").to_pylist(), table.column("summary.loss").to_pylist(), strict=True))
        assert losses["r0001"] == 101.0 and losses["r0002"] == 102.0 and losses["r0000"] == 100.0
        assert scans[0] == 4 and len(scans) >= 3  # the shifted page was detected: restart
        # the deletions raced the run count; the next refresh's count notices them
        assert same_rows(fetch(server, RunsCache(cache_dir)), fetch(server, None))


def test_plan_prefers_scanning_near_runs_and_looking_up_far_ones() -> None:
    hour = 3_600_000_000
    beats: dict[str, int | None] = {f"r{i}": i * hour for i in range(100)}
    beats["stale"], beats["nobeat"] = -1000 * hour, None
    cached = CachedRuns(beats, frozenset({"r98", "r90", "stale", "nobeat"}))
    plan = plan_scan(cached, since=micros(datetime.fromtimestamp(99 * 3600, UTC)))
    assert plan.cutoff == 90 * hour and plan.expected_rows == 10  # r90 is 9 runs further
    assert set(plan.lookups) == {"stale", "nobeat"}
    assert plan_scan(CachedRuns({}, frozenset()), since=None).cutoff is None


def test_first_scan_page_is_sized_by_the_hint_in_the_file(server: LocalServer, cache_dir: Path) -> None:
    """A new process requests the first scan page while it reads the file, sized by a hint."""
    fetch(server, cache_dir)
    key = cache_key(make_api(server).runs(f"{ENTITY}/{PROJECT}")._cached_listing())
    record = RunsCache(cache_dir).peek(key)
    assert record is not None and record["scan_rows"] == 11  # r0039 … r0029, the unfinished r0029
    cache = RunsCache(cache_dir)
    cache.scan_page = 3
    _, log = refresh(server, cache)
    assert [v["first"] for op, v in log if op == "RunsPage"] == [3 + 11]
    cache.load(key)
    assert cache.peek(key) is None  # in memory: nothing to read ahead of
