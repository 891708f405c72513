"""Fixtures for the secondary API surface: one seeded local server, a plain HTTP executor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from surface_support import ENTITY, PROJECT, HttpExecutor, seed

from wandb_frames.testing import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        seed(srv)
        yield srv


@pytest.fixture()
def executor(server: LocalServer) -> HttpExecutor:
    return HttpExecutor(server.url, server.api_key)


@pytest.fixture()
def runs_factory(server: LocalServer) -> Any:
    """The core's ``Api.runs`` as a ``runs_factory`` for sweeps."""
    from wandb_frames.api import Api

    api = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": ENTITY}, progress=False)

    def factory(filters: dict[str, Any], order: str | None) -> Any:
        return api.runs(f"{ENTITY}/{PROJECT}", filters=filters, order=order or "+created_at")

    return factory


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
