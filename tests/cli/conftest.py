"""Fixtures: one local server for the CLI tests, and the environment pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wandb_frames.testing import LocalServer

ENTITY, PROJECT = "local", "cli"
START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    runs = [
        {
            "id": f"c{i:03d}",
            "state": "finished" if i % 2 else "crashed",
            "created_at": START + timedelta(minutes=i),
            "heartbeat_at": START + timedelta(minutes=i, hours=1),
            "config": {"lr": 0.01 * (i + 1), "opt": "adam" if i % 3 else "sgd"},
            "summary": {"loss": 1.0 / (i + 1)},
            "tags": ["a", "b"] if i % 2 else [],
            "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 1.0 / (s + 1)}
                        for s in range(5)],
        }
        for i in range(12)
    ]
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, runs)
        yield srv


@pytest.fixture
def env(server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalServer:
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WANDB_ENTITY", raising=False)
    server.clear_requests()
    return server
