"""The page stream behind Runs: a limit stops requests, prefetching stays one page ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from tests.client.conftest import ENTITY, simple_runs
from wandb_frames.graphql import listing
from wandb_frames.api import Api
from wandb_frames.testing import LocalServer


def _setup(n: int) -> tuple[LocalServer, Api]:
    server = LocalServer().start()
    server.add_runs(ENTITY, "pipe", simple_runs(n))
    return server, Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)


def test_limit_stops_requesting_once_enough_distinct_runs_arrived() -> None:
    server, api = _setup(50)
    try:
        query = listing.ListingQuery(entity=ENTITY, project="pipe")
        server.clear_requests()
        pages = list(listing.iter_node_pages(api.execute, query, 10, limit=25))
        assert [len(p) for p in pages] == [10, 10, 10]
        assert sum(1 for op, _ in server.requests if op == "RunsPage") == 3
        assert len(list(listing.iter_node_pages(api.execute, query, 10))) == 5
    finally:
        server.stop()


def test_prefetch_runs_at_most_one_item_ahead_of_the_consumer() -> None:
    produced: list[int] = []
    gate = threading.Event()

    def source() -> Iterator[int]:
        for i in range(10):
            produced.append(i)
            yield i

    stream = listing.prefetch(source)
    assert next(stream) == 0
    gate.wait(0.2)  # let the thread run ahead as far as it can
    assert len(produced) <= 2  # item 0 (taken) and item 1 (fetched ahead), no more
    assert list(stream) == list(range(1, 10))
