"""Fixtures: one local W&B-compatible server per module with a small project and histories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wandb_frames.api import Api
from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing import LocalServer

ENTITY = "local"
PROJECT = "proj"
START = datetime(2025, 1, 1, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=0.01, max_delay=0.05)


def make_runs(n: int) -> list[dict[str, Any]]:
    """``n`` runs created a minute apart; ``notes`` sort in the reverse of creation order."""
    return [
        {
            "id": f"r{i:04d}",
            "display_name": f"run-{i}",
            "state": "finished",
            "created_at": START + timedelta(minutes=i),
            "notes": f"note-{n - i:04d}",
            "config": {"lr": 0.001 * (i + 1)},
            "summary": {"loss": 1.0 / (i + 1)},
            "tags": ["a", "b"] if i % 2 else ["a"],
            "history": [
                {"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 1.0 / (s + 1)}
                for s in range(5)
            ],
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(20))
        yield srv


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
               retry=FAST_RETRY)
