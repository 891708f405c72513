"""Retries under the local server's fault injection; a failure mid-pagination never returns short."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.client.conftest import ENTITY, FAST_RETRY, simple_runs
from wandb_frames.api import Api
from wandb_frames.errors import HTTPStatusError, IncompleteResultError
from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing import Faults, LocalServer
from wandb_frames.testing.faults import FaultInjector


def test_rate_limits_and_server_errors_are_retried_transparently() -> None:
    faults = Faults(seed=3, rate_limit=0.25, server_error=0.2, retry_after=0.01)
    with LocalServer(faults=faults) as server:
        server.add_runs(ENTITY, "flaky", simple_runs(120))
        # 40 % of attempts fail: 12 attempts leave a request failing for good once in ~10**5
        # (the draws follow the order requests arrive in, which threads make vary)
        api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
                  retry=RetryPolicy(max_attempts=12, deadline=20.0, base_delay=0.01, max_delay=0.05))
        for concurrency in (0, 3):
            table = api.runs("local/flaky", per_page=10, concurrency=concurrency).to_arrow()
            assert table["id"].to_pylist() == [f"r{i:05d}" for i in range(120)]
        counts = server.fault_counts
    assert counts["rate_limit"] > 0 and counts["server_error"] > 0


def test_failure_mid_pagination_raises_with_partial_rows() -> None:
    with LocalServer() as server:
        server.add_runs(ENTITY, "breaks", simple_runs(1100))
        api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
                  retry=RetryPolicy(max_attempts=2, base_delay=0.01))
        send = api.execute_raw
        batches: list[int] = []

        def break_at_third_batch(document: Any, variables: Any, **kwargs: Any) -> Any:
            batches.append(1)
            if len(batches) == 3:  # two heavy batches of 500 arrived; the server breaks now
                server.faults = FaultInjector(Faults(server_error=1.0, statuses=(503,)))
            return send(document, variables, **kwargs)

        api.execute_raw = break_at_third_batch  # type: ignore[method-assign]
        with pytest.raises(IncompleteResultError) as info:
            api.runs("local/breaks", per_page=10, concurrency=1).to_arrow()
    partial = info.value.partial
    # the first page, then the batches that arrived before the failing one (two are in flight,
    # so which request is the third is a race): always a prefix of the listing, never all of it
    assert partial.num_rows in (500, 1000)
    assert partial["id"].to_pylist() == [f"r{i:05d}" for i in range(partial.num_rows)]
    assert isinstance(info.value.__cause__, HTTPStatusError)
    assert info.value.__cause__.status_code == 503
    assert server.api_key not in str(info.value)


def test_failure_on_first_page_raises_the_api_error() -> None:
    with LocalServer(faults=Faults(server_error=1.0, statuses=(500,))) as server:
        server.add_runs(ENTITY, "down", simple_runs(5))
        api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
                  retry=RetryPolicy(max_attempts=2, base_delay=0.01))
        with pytest.raises(HTTPStatusError) as info:
            api.runs("local/down").to_arrow()
    assert info.value.status_code == 500 and info.value.operation == "RunIdsPage"  # the first request


def test_truncated_bodies_are_retried() -> None:
    with LocalServer(faults=Faults(seed=1, truncate=0.3)) as server:
        server.add_runs(ENTITY, "cut", simple_runs(60))
        api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
                  retry=FAST_RETRY)
        table = api.runs("local/cut", per_page=10).to_arrow()
        assert server.fault_counts["truncate"] > 0
    assert table.num_rows == 60
