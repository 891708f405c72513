"""Fixtures: the local server seeded with handcrafted histories, and the real Api as executor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from history_support import ENTITY, PROJECT, RECORDS, NoParquetExecutor, RequestsExecutor

from wandb_frames.testing import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        srv.add_runs(ENTITY, PROJECT, RECORDS)
        yield srv


@pytest.fixture()
def executor(server: LocalServer) -> RequestsExecutor:
    return RequestsExecutor(server.url, server.api_key)


@pytest.fixture()
def no_parquet(server: LocalServer) -> NoParquetExecutor:
    return NoParquetExecutor(server.url, server.api_key)
