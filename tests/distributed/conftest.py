"""Fixtures: local servers (one with injected faults) and a real Dask cluster of two processes."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wandb_frames.api import Api
from wandb_frames.distributed import ApiKeyPlugin
from wandb_frames.testing import LocalServer

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from distributed_support import ENTITY, FAST_RETRY, FAULTS, RUNS  # noqa: E402


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
