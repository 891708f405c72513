"""Fixtures: a fresh local server per test (the cache tests change runs), a cache dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cache_support import ENTITY, PROJECT, make_runs

from wandb_frames.testing import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(40))
        yield srv


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"
