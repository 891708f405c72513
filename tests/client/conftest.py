"""Fixtures: one local W&B-compatible server per module, seeded with small known projects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wandb_frames.api import Api
from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing import LocalServer

ENTITY = "local"
START = datetime(2025, 1, 1, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=6, deadline=20.0, base_delay=0.01, max_delay=0.05)


def simple_runs(n: int, *, prefix: str = "r", start: datetime = START) -> list[dict[str, Any]]:
    """``n`` runs with known config/summary values, created one minute apart."""
    return [
        {
            "id": f"{prefix}{i:05d}",
            "display_name": f"run-{i}",
            "state": "finished" if i % 3 else "crashed",
            "created_at": start + timedelta(minutes=i),
            "config": {"lr": round(0.001 * (i + 1), 6), "opt": "adam" if i % 2 else "sgd",
                       "model": {"layers": i % 4 + 1}},
            "summary": {"loss": 1.0 / (i + 1), "acc": (i % 10) / 10},
            "system_metrics": {"cpu": float(i % 7)},
            "tags": ["even"] if i % 2 == 0 else [],
            "files": {"wandb-metadata.json": f'{{"host": "node-{i % 2}", "gpu_count": {i % 3}}}'},
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "many", simple_runs(230))
        srv.add_runs(ENTITY, "small", simple_runs(12))
        srv.add_runs(ENTITY, "empty", [])
        yield srv


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False,
               retry=FAST_RETRY)
