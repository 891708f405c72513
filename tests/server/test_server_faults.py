"""Fault injection: seeded, deterministic, counted; 429 carries Retry-After."""

from __future__ import annotations

import time

import pytest
import requests
from server_support import Client, make_runs

from wandb_frames.testing import Faults, LocalServer

Q = 'query Probe { project(name: "p", entityName: "e") { runCount } }'


def statuses(faults: Faults, n: int = 40) -> tuple[list[int], dict[str, int]]:
    with LocalServer(faults=faults) as srv:
        srv.add_runs("e", "p", make_runs(2))
        client = Client(srv)
        out = [client.post(Q).status_code for _ in range(n)]
        return out, srv.fault_counts


def test_faults_are_deterministic_given_a_seed() -> None:
    faults = Faults(seed=3, rate_limit=0.2, server_error=0.2, statuses=(500, 502, 503))
    a, counts = statuses(faults)
    b, _ = statuses(faults)
    c, _ = statuses(Faults(seed=4, rate_limit=0.2, server_error=0.2))
    assert a == b and a != c
    assert counts["rate_limit"] == a.count(429) > 0
    assert counts["server_error"] == sum(a.count(s) for s in (500, 502, 503)) > 0
    assert a.count(200) == 40 - counts["rate_limit"] - counts["server_error"]


def test_429_carries_retry_after() -> None:
    with LocalServer(faults=Faults(rate_limit=1.0, retry_after=0.25)) as srv:
        response = Client(srv).post(Q)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "0.25"
        assert response.json()["errors"]


def test_only_operations_limits_faults() -> None:
    with LocalServer(faults=Faults(server_error=1.0, statuses=(503,), only_operations=["Probe"])) as srv:
        client = Client(srv)
        assert client.post(Q).status_code == 503
        assert client.post("query Other { viewer { id } }").status_code == 200
        assert srv.fault_counts["server_error"] == 1


def test_truncated_body_breaks_the_read() -> None:
    with LocalServer(faults=Faults(truncate=1.0)) as srv:
        srv.add_runs("e", "p", make_runs(3))
        doc = 'query { project(name: "p", entityName: "e") { runs { edges { node { config } } } } }'
        with pytest.raises((requests.RequestException, ValueError)):
            Client(srv).post(doc).json()
        assert srv.fault_counts["truncate"] == 1


def test_delay() -> None:
    with LocalServer(faults=Faults(delay=0.3, delay_rate=1.0)) as srv:
        start = time.perf_counter()
        assert Client(srv).post(Q).status_code == 200
        assert time.perf_counter() - start >= 0.3
        assert srv.fault_counts["delay"] == 1


def test_invalid_rates_rejected() -> None:
    with pytest.raises(ValueError):
        Faults(rate_limit=0.7, server_error=0.5)
