"""Fixtures: a local server with runs (and histories) in two projects, an Api on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from wandb_frames.api import Api
from wandb_frames.testing import LocalServer

ENTITY = "local"
START = datetime(2025, 1, 1, tzinfo=UTC)


def _runs(n: int, prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i:03d}",
            "state": ("finished", "crashed", "running")[i % 3],
            "created_at": START + timedelta(minutes=i),
            "config": {"lr": 0.001 * (i + 1), "opt": "adam" if i % 2 else "sgd",
                       "mixed": i if i % 4 else "auto"},
            "summary": {"loss": 1.0 / (i + 1), "img": {"_type": "image-file", "path": f"{i}.png"}},
            "tags": ["x"] if i % 2 else ["x", "y"],
            "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 1.0 / (s + i + 1),
                         "acc": s / 10} for s in range(4)],
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "alpha", _runs(30, "a"))
        srv.add_runs(ENTITY, "beta", _runs(10, "b"))
        yield srv


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
