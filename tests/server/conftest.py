"""Fixtures for the local-server tests: a seeded server and a GraphQL client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_support import ENTITY, KEY, PROJECT, Client, make_runs

from wandb_frames.testing import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(20))
        yield srv


@pytest.fixture(scope="session")
def gql(server: LocalServer) -> Client:
    return Client(server)


@pytest.fixture()
def fresh() -> Iterator[LocalServer]:
    """A server of its own, for tests that write."""
    with LocalServer() as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(6))
        yield srv
