"""Fixtures: local servers (one with injected faults) and a real Dask cluster of two processes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wandb_frames.api import Api
from wandb_frames.distributed import ApiKeyPlugin
from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing import LocalServer
from wandb_frames.testing.faults import Faults

ENTITY = "local"
START = datetime(2025, 1, 1, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=12, deadline=60.0, base_delay=0.01, max_delay=0.05, jitter=0.0)
FAULTS = Faults(seed=7, rate_limit=0.15, retry_after=0.01, server_error=0.15, truncate=0.05)


def make_runs(n: int, prefix: str = "r", *, steps: int = 6) -> list[dict[str, Any]]:
    """Runs whose columns vary: a key only in later runs, a column of mixed kinds, media."""
    runs = []
    for i in range(n):
        config: dict[str, Any] = {"lr": 0.001 * (i + 1), "opt": "adam" if i % 2 else "sgd",
                                  "mixed": i if i % 4 else "auto", "layers": [i, i + 1]}
        summary: dict[str, Any] = {"loss": 1.0 / (i + 1), "img": {"_type": "image-file", "path": f"{i}.png"}}
        if i >= n // 2:
            config["late"] = {"depth": i}  # absent from the first half of the runs
            summary["late_acc"] = i / n
        runs.append({
            "id": f"{prefix}{i:03d}",
            "state": ("finished", "crashed", "running")[i % 3],
            "created_at": START + timedelta(minutes=i),
            "config": config,
            "summary": summary,
            "tags": ["x"] if i % 2 else ["x", "y"],
            "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s,
                         "loss": 1.0 / (s + i + 1), "acc": s / 10, **({"extra": s} if i % 5 == 0 else {})}
                        for s in range(steps)],
        })
    return runs


RUNS = make_runs(24)


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mixed config column warns by design
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "alpha", RUNS)
        yield srv


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY, faults=FAULTS) as srv:
        srv.add_runs(ENTITY, "alpha", RUNS)
        yield srv


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, retry=FAST_RETRY)


@pytest.fixture
def faulty_api(faulty_server: LocalServer) -> Api:
    return Api(api_key=faulty_server.api_key, overrides={"base_url": faulty_server.url}, progress=False,
               retry=FAST_RETRY)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster: Any, server: LocalServer, faulty_server: LocalServer) -> Iterator[Any]:
    """A client of the cluster whose workers got both servers' keys through the plugin only."""
    from distributed import Client

    with Client(cluster) as client:
        for srv in (server, faulty_server):
            client.register_plugin(ApiKeyPlugin(Api(api_key=srv.api_key, overrides={"base_url": srv.url})),
                                   name=f"wandb-frames-key-{srv.url}")
        yield client
