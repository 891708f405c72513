"""Fixtures for the secondary API surface: one seeded local server and the real ``Api``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from surface_support import ENTITY, make_api, seed

from wandb_frames import Api
from wandb_frames.testing import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        seed(srv)
        yield srv


@pytest.fixture()
def api(server: LocalServer) -> Api:
    """A fresh ``Api`` on the seeded server, with the server's request log cleared."""
    server.clear_requests()
    return make_api(server)


@pytest.fixture()
def wandb_api(server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The official ``wandb==0.31.0`` client pointed at the same server."""
    for name, value in {"WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true",
                        "WANDB_DIR": str(tmp_path / "dir"), "WANDB_CACHE_DIR": str(tmp_path / "cache"),
                        "WANDB_CONFIG_DIR": str(tmp_path / "config"), "WANDB_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    for name in ("WANDB_API_KEY", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": ENTITY})
