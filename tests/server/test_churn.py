"""Listing churn: the server deletes, moves and adds runs between runs pages, as scripted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from server_support import ENTITY, PROJECT, Client, make_runs

from wandb_frames.testing import ChurnEvent, ListingChurn, LocalServer, RandomChurn, RunsChange

PAGE = """query RunsPage($e: String!, $p: String!, $after: String, $order: String, $filters: JSONString) {
  project(name: $p, entityName: $e) {
    runs(first: 5, after: $after, order: $order, filters: $filters) {
      totalCount edges { node { name heartbeatAt } } pageInfo { endCursor hasNextPage } }
    runCount(filters: $filters) } }"""


@pytest.fixture()
def srv() -> Iterator[LocalServer]:
    # make_runs: run{i} created at hour i with _runtime 60*i: both dates grow with i
    with LocalServer() as server:
        server.add_runs(ENTITY, PROJECT, make_runs(20))
        server.add_runs(ENTITY, "other", make_runs(3))
        yield server


def page(client: Client, after: str | None = None, order: str | None = None, operation: str = "RunsPage",
         filters: str | None = None, project: str = PROJECT) -> tuple[list[str], dict[str, Any]]:
    doc = PAGE.replace("query RunsPage", f"query {operation}")
    data = client(doc, {"e": ENTITY, "p": project, "after": after, "order": order, "filters": filters})["data"]
    runs = data["project"]["runs"]
    return [e["node"]["name"] for e in runs["edges"]], {
        "cursor": runs["pageInfo"]["endCursor"], "total": runs["totalCount"], "count": data["project"]["runCount"]}


def scan(client: Client, order: str | None = None) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        names, info = page(client, after, order)
        seen += names
        if not names:
            return seen
        after = info["cursor"]


def runs(*numbers: int) -> list[str]:
    return [f"run{i:03d}" for i in numbers]


def test_deletions_after_a_page_shift_the_next_page(srv: LocalServer) -> None:
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [RunsChange(after_page=1, delete=("run019", "run010", "nope"))]))
    client = Client(srv)
    first, info1 = page(client)
    assert first == runs(19, 18, 17, 16, 15)  # served before the change: run019 still there
    assert info1["total"] == info1["count"] == 20
    second, info2 = page(client, info1["cursor"])
    # offset 5 of the new list: run014 was never touched and the scan skips it
    assert second == runs(13, 12, 11, 9, 8)
    assert info2["total"] == info2["count"] == 18
    assert srv.churn_events == [ChurnEvent(page=1, operation="RunsPage", deleted=("run019", "run010"))]
    assert srv.churn_pages == 2


def test_to_front_moves_runs_under_heartbeat_order(srv: LocalServer) -> None:
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [RunsChange(after_page=1, to_front=("run002", "run003"))]))
    client = Client(srv)
    seen = scan(client, "-heartbeat_at")
    assert seen[:5] == runs(19, 18, 17, 16, 15)
    assert seen[5:7] == runs(16, 15)  # repeated: two runs moved in ahead of them
    assert "run002" not in seen and "run003" not in seen  # moved behind the cursor: never seen
    assert len(seen) == 20
    names, _ = page(client, order="-heartbeat_at")
    assert names[:2] == runs(2, 3)  # the given order is the new front
    names, _ = page(client, order="+heartbeat_at")
    assert "run002" not in names and names[0] == "run000"
    assert srv.churn_events[0].moved == ("run002", "run003")


def test_update_changes_a_sort_key_and_keeps_the_other_dates(srv: LocalServer) -> None:
    before = page(Client(srv), order="-heartbeat_at")
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [
        RunsChange(after_page=1, update={"run000": {"created_at": datetime(2030, 1, 1, tzinfo=UTC)}})]))
    client = Client(srv)
    page(client)
    names, _ = page(client)  # a new scan from the start
    assert names[0] == "run000"
    assert page(client, order="-heartbeat_at")[0] == before[0]  # heartbeat unchanged
    assert srv.churn_events[0].updated == ("run000",)


def test_insert_adds_runs_and_counts_follow(srv: LocalServer) -> None:
    new = {"id": "fresh", "created_at": datetime(2031, 1, 1, tzinfo=UTC)}
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [RunsChange(after_page=2, insert=[new])]))  # type: ignore[list-item]
    client = Client(srv)
    _, info = page(client)
    _, info = page(client, info["cursor"])
    assert info["count"] == 20
    names, info = page(client, info["cursor"])
    assert names == runs(10, 9, 8, 7, 6)  # shifted by one: run010 repeated
    assert info["total"] == info["count"] == 21
    assert page(client)[0][0] == "fresh"
    assert srv.churn_events == [ChurnEvent(page=2, operation="RunsPage", inserted=("fresh",))]


def test_only_operations_and_other_projects_are_not_counted(srv: LocalServer) -> None:
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [RunsChange(after_page=1, delete=("run019",))],
                               only_operations={"RunsPage"}))
    client = Client(srv)
    page(client, operation="IdBatch")
    page(client, project="other")
    assert srv.churn_pages == 0 and srv.churn_events == []
    _, info = page(client)
    assert info["count"] == 20
    assert page(client)[1]["count"] == 19
    assert srv.churn_pages == 2


def test_filtered_counts_reflect_the_current_state(srv: LocalServer) -> None:
    even = '{"tags": {"$in": ["even"]}}'
    srv.set_churn(ListingChurn(ENTITY, PROJECT, [RunsChange(after_page=1, delete=runs(0, 1, 2))]))
    client = Client(srv)
    assert page(client, filters=even)[1]["count"] == 10
    assert page(client, filters=even)[1]["count"] == 8  # run000 and run002 were even


def random_scan(seed: int) -> tuple[list[str], list[ChurnEvent]]:
    with LocalServer() as server:
        server.add_runs(ENTITY, PROJECT, make_runs(30))
        server.set_churn(ListingChurn(ENTITY, PROJECT, random=RandomChurn(
            seed=seed, delete=2, to_front=1, insert=1, every=1, first_page=1, last_page=4)))
        seen = scan(Client(server), "-heartbeat_at")
        return seen, server.churn_events


def test_random_churn_is_deterministic_and_logged() -> None:
    seen_a, events_a = random_scan(7)
    seen_b, events_b = random_scan(7)
    seen_c, events_c = random_scan(8)
    assert (seen_a, events_a) == (seen_b, events_b)
    assert events_a != events_c
    assert [e.page for e in events_a] == [1, 2, 3, 4]
    for event in events_a:
        assert len(event.deleted) == 2 and len(event.moved) == 1 and len(event.inserted) == 1
        assert not set(event.deleted) & set(event.moved)
    inserted = [e.inserted[0] for e in events_a]
    assert inserted == ["churn00000", "churn00001", "churn00002", "churn00003"]
    assert len({r for e in events_a for r in e.deleted}) == 8


def test_concurrent_pages_with_churn_never_fail() -> None:
    import threading

    with LocalServer() as server:
        server.add_runs(ENTITY, PROJECT, make_runs(40))
        server.set_churn(ListingChurn(ENTITY, PROJECT, random=RandomChurn(seed=1, delete=1, to_front=1)))
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                scan(Client(server), "-heartbeat_at")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert server.churn_pages == len(server.churn_events) > 0


def test_invalid_changes_rejected() -> None:
    with pytest.raises(ValueError):
        RunsChange(after_page=0)
    with pytest.raises(TypeError):
        RunsChange(after_page=1, delete="run001")
    with pytest.raises(ValueError):
        RandomChurn(every=0)
