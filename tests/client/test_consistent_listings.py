"""Listings that lose no run while the project changes under them (issue 15, point 4).

The server deletes runs, moves running runs to the front of ``-heartbeat_at`` and adds new
ones between the pages it serves (``wandb_frames.testing.ListingChurn``). A complete listing
holds every run that existed before and after the scan exactly once; deleted runs and runs
created meanwhile may appear, once. Checked on every listing path: the table, iteration,
``iter_batches``, a fixed ``concurrency`` and the on-disk cache; with the ID snapshot in one
page and in many (``ID_PAGE_SIZE`` made small).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests

from tests.client.conftest import ENTITY, FAST_RETRY, START, simple_runs
from wandb_frames.api import Api
from wandb_frames.graphql import listing, snapshot
from wandb_frames.testing import ListingChurn, LocalServer, RandomChurn, RunsChange

RUNS = 120
SEEDED = {f"r{i:05d}" for i in range(RUNS)}


@pytest.fixture(autouse=True)
def _reference_executor() -> Iterator[None]:
    """Not here: the suite-wide check runs every query twice (tests/conftest.py), and runs that
    change between concurrent requests make the two answers differ by design."""
    yield


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        yield srv


def _api(server: LocalServer, **kwargs: object) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, retry=FAST_RETRY,
               **kwargs)  # type: ignore[arg-type]


def _ids_table(server: LocalServer, project: str, **kw: object) -> list[str]:
    return list(_api(server).runs(f"{ENTITY}/{project}", **kw).to_arrow()["id"].to_pylist())  # type: ignore[arg-type]


def _ids_iteration(server: LocalServer, project: str, **kw: object) -> list[str]:
    return [run.id for run in _api(server).runs(f"{ENTITY}/{project}", **kw)]  # type: ignore[arg-type]


def _ids_batches(server: LocalServer, project: str, **kw: object) -> list[str]:
    runs = _api(server).runs(f"{ENTITY}/{project}", **kw)  # type: ignore[arg-type]
    return [i for batch in runs.iter_batches() for i in batch["id"].to_pylist()]


def _ids_concurrent(server: LocalServer, project: str, **kw: object) -> list[str]:
    return _ids_table(server, project, concurrency=4, **kw)


PATHS: dict[str, Callable[..., list[str]]] = {
    "table": _ids_table,
    "iteration": _ids_iteration,
    "iter_batches": _ids_batches,
    "concurrency=4": _ids_concurrent,
}


def _check(ids: list[str], server: LocalServer, seeded: set[str] = SEEDED) -> None:
    events = server.churn_events
    assert events, "the server changed nothing: the test proves nothing"
    deleted = {name for event in events for name in event.deleted}
    inserted = {name for event in events for name in event.inserted}
    assert len(ids) == len(set(ids)), "a run listed twice"
    missing = (seeded - deleted) - set(ids)
    assert not missing, f"runs that existed throughout are missing: {sorted(missing)}"
    assert set(ids) <= seeded | inserted


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("seed", [1, 2])
def test_deletions_and_moves_between_pages_lose_no_run(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, path: str, seed: int
) -> None:
    monkeypatch.setattr(snapshot, "ID_PAGE_SIZE", 25)  # the ID snapshot takes five pages
    server.add_runs(ENTITY, "churn", simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, "churn", random=RandomChurn(seed=seed, delete=3, to_front=2, insert=1)))
    ids = PATHS[path](server, "churn", order="-heartbeat_at", per_page=10)
    _check(ids, server)


@pytest.mark.parametrize("path", list(PATHS))
def test_a_one_page_snapshot_is_consistent_whatever_happens_after_it(server: LocalServer, path: str) -> None:
    server.add_runs(ENTITY, "churn1", simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, "churn1", random=RandomChurn(seed=3, delete=4, to_front=3)))
    ids = PATHS[path](server, "churn1", order="-heartbeat_at", per_page=10)
    _check(ids, server)


def test_the_cache_full_fetch_loses_no_run(server: LocalServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "ID_PAGE_SIZE", 25)
    server.add_runs(ENTITY, "cached", simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, "cached", random=RandomChurn(seed=4, delete=3, to_front=2)))
    table = _api(server, cache=tmp_path).runs(f"{ENTITY}/cached", per_page=10).to_arrow()
    _check(table["id"].to_pylist(), server)


def test_offset_paging_alone_would_lose_runs(server: LocalServer) -> None:
    """The same churn against plain offset pages skips runs: what the snapshot guards against."""
    server.add_runs(ENTITY, "plain", simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, "plain", changes=[RunsChange(after_page=1, delete=("r00002", "r00003"))]))
    api = _api(server)
    query = listing.ListingQuery(entity=ENTITY, project="plain")
    ids = [n["name"] for page in listing.iter_node_pages(api.execute, query, 10) for n in page]
    assert {"r00010", "r00011"} - set(ids), "offset paging should have skipped two runs here"
    server.set_churn(ListingChurn(ENTITY, "plain", changes=[RunsChange(after_page=1, delete=("r00012", "r00013"))]))
    _check(_ids_table(server, "plain", per_page=10), server, SEEDED - {"r00002", "r00003"})


@pytest.mark.parametrize("order", ["-heartbeat_at", "+created_at", "-created_at", "+summary_metrics.loss"])
def test_a_storm_on_every_id_page_loses_no_run(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """Runs deleted and moved after every page of a ten-page ID snapshot, in several orders
    (creation time: anchored pages; any other: offset pages, then an anchored re-listing)."""
    monkeypatch.setattr(snapshot, "ID_PAGE_SIZE", 12)
    project = f"storm{abs(hash(order)) % 1000}"
    server.add_runs(ENTITY, project, simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, project, random=RandomChurn(seed=5, delete=4, to_front=4, insert=1),
                                  only_operations={"RunIdsPage"}))
    ids = _ids_table(server, project, order=order)
    _check(ids, server)


def test_anchored_pages_survive_runs_created_at_one_instant(server: LocalServer) -> None:
    """Ties on ``createdAt`` across page boundaries: asked for again and de-duplicated."""
    runs = simple_runs(40)
    for i, run in enumerate(runs):
        run["created_at"] = START + timedelta(minutes=i // 15)  # three instants, 15 runs each at most
    server.add_runs(ENTITY, "ties", runs)
    api = _api(server)
    query = listing.ListingQuery(entity=ENTITY, project="ties")
    listed = snapshot.list_run_ids(api.execute, query, page_size=7).names
    assert len(listed) == len(set(listed)) == 40
    assert sorted(listed) == [r["id"] for r in runs]


def test_a_rate_limit_slows_the_listing_and_never_fails_it() -> None:
    from wandb_frames.testing import Network, RateLimit

    with LocalServer(entity=ENTITY, network=Network(rate_limit=RateLimit(rate=40, burst=3))) as server:
        server.add_runs(ENTITY, "limited", simple_runs(300))
        api = _api(server)
        ids = [run.id for run in api.runs(f"{ENTITY}/limited", per_page=10)]  # 31 requests
        assert ids == sorted(SEEDED | {f"r{i:05d}" for i in range(RUNS, 300)})
        assert server.traffic.rate_limited > 0, "the server never pushed back: the test proves nothing"
        assert api.transport.limiter.decreases > 0
        table = api.runs(f"{ENTITY}/limited").to_arrow()
        assert pa.compute.count(table["id"]).as_py() == 300


def test_anchored_pages_keep_the_filter_as_sent(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's filter is combined with the anchor as text: W&B's JSON may hold bare Infinity."""
    monkeypatch.setattr(snapshot, "ID_PAGE_SIZE", 25)
    server.add_runs(ENTITY, "inf", simple_runs(RUNS))
    ids = _ids_table(server, "inf", filters={"summary.loss": {"$lt": float("inf")}, "config.opt": "adam"})
    assert ids == [f"r{i:05d}" for i in range(1, RUNS, 2)]


class _IdsAfterFirstPage(requests.Session):
    """Holds the ID snapshot's request until the first heavy page was answered (and the churn
    due after it applied): the order a slow snapshot gives on a real link, made certain."""

    def __init__(self) -> None:
        super().__init__()
        self.first_page = threading.Event()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        if b'"RunIdsPage"' in body:
            assert self.first_page.wait(10), "the first page never came"
        response = super().send(request, **kwargs)
        if b'"RunsPage"' in body:
            self.first_page.set()
        return response


def _gated_api(server: LocalServer) -> tuple[Api, _IdsAfterFirstPage]:
    session = _IdsAfterFirstPage()
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, retry=FAST_RETRY,
              session=session)
    return api, session


@pytest.mark.parametrize("path", ["table", "iteration"])
def test_a_run_created_after_the_first_page_is_not_listed_out_of_order(server: LocalServer, path: str) -> None:
    """The first page is handed on before the snapshot: a run created in between would sort
    before it in ``-created_at``; it did not exist when the listing began, and is left out
    rather than listed after the runs it is newer than."""
    server.add_runs(ENTITY, "newer", simple_runs(RUNS))
    new = {**simple_runs(1, prefix="late")[0], "created_at": START + timedelta(days=365)}
    server.set_churn(ListingChurn(ENTITY, "newer", changes=[RunsChange(after_page=1, insert=[new])],
                                  only_operations={"RunsPage"}))
    api, session = _gated_api(server)
    runs = api.runs(f"{ENTITY}/newer", order="-created_at", per_page=10)
    if path == "table":
        table = runs.to_arrow()
        ids, created = table["id"].to_pylist(), table["created_at"].to_pylist()
    else:
        listed = list(runs)
        ids, created = [run.id for run in listed], [run.created_at for run in listed]
    assert session.first_page.is_set() and server.churn_events, "the run was never created: the test proves nothing"
    _check(ids, server)
    assert created == sorted(created, reverse=True), "the listing is out of its order"


@pytest.mark.parametrize("path", ["table", "iteration"])
def test_a_run_that_moves_into_the_first_page_after_it_was_read_is_kept(server: LocalServer, path: str) -> None:
    """``-heartbeat_at``: a run deep in the listing starts logging after the first page was read
    and before the snapshot: it is in neither the first page (read before) nor the snapshot's
    rest (it sorts first now), and must still be listed, once."""
    server.add_runs(ENTITY, "mover", simple_runs(RUNS))
    server.set_churn(ListingChurn(ENTITY, "mover", changes=[RunsChange(after_page=1, to_front=["r00100"])],
                                  only_operations={"RunsPage"}))
    api, session = _gated_api(server)
    runs = api.runs(f"{ENTITY}/mover", order="-heartbeat_at", per_page=10)
    ids = runs.to_arrow()["id"].to_pylist() if path == "table" else [run.id for run in runs]
    assert session.first_page.is_set() and [e.moved for e in server.churn_events] == [("r00100",)]
    _check(ids, server)
    assert ids.count("r00100") == 1


class _HeldSnapshot(requests.Session):
    """Holds the ID snapshot's request until the test releases it; counts what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.snapshot_answered = threading.Event()
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        snapshot = b'"RunIdsPage"' in body
        if snapshot:
            assert self.release.wait(10), "the test never released the snapshot"
        self.sent.append("RunIdsPage" if snapshot else "RunsPage" if b'"RunsPage"' in body else "other")
        try:
            return super().send(request, **kwargs)
        finally:
            if snapshot:
                self.snapshot_answered.set()


def test_a_listing_left_early_asks_for_no_batch_afterwards(server: LocalServer) -> None:
    """The caller takes the first page and stops while the snapshot is still out: when the
    snapshot comes back, its thread must not start fetching batches nobody will read."""
    server.add_runs(ENTITY, "left", simple_runs(RUNS))
    session = _HeldSnapshot()
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, retry=FAST_RETRY,
              session=session)
    pages = iter(api.runs(f"{ENTITY}/left", per_page=10))
    assert next(pages).id == "r00000"
    pages.close()  # the caller stops reading
    session.release.set()
    assert session.snapshot_answered.wait(10)
    time.sleep(0.3)  # the snapshot's thread has long decided by now
    assert session.sent.count("RunsPage") == 1, session.sent
