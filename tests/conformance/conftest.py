"""Fixtures of the conformance suite: the official ``wandb==0.31.0`` client against ``LocalServer``.

One seeded server and one ``wandb.Api`` per session (starting wandb-core costs about a
second). The environment is isolated before the first ``wandb.Api``: error reporting off
(no OpenTelemetry probe), silent, temporary ``WANDB_DIR``/``WANDB_CACHE_DIR``/
``WANDB_CONFIG_DIR``/``WANDB_DATA_DIR``, ``NETRC`` pointed at a temporary file, and no
``WANDB_API_KEY``/``WANDB_BASE_URL``/``WANDB_ENTITY`` from the developer's shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conformance_support import (
    ENTITY,
    HISTORY_STEPS,
    LONG_PROJECT,
    LONG_STEPS,
    N_RUNS,
    PROJECT,
    SEED,
    WRITE_PROJECT,
)

from wandb_frames.testing import LocalServer, RunRecord
from wandb_frames.testing.synthetic import (
    synthetic_artifacts,
    synthetic_project,
    synthetic_reports,
    synthetic_sweeps,
)

_CLEARED = ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_MODE",
            "WANDB_IDENTITY_TOKEN_FILE")


def _netrc_state() -> tuple[bool, float, int]:
    path = Path.home() / ".netrc"
    if not path.exists():
        return (False, 0.0, 0)
    stat = path.stat()
    return (True, stat.st_mtime, stat.st_size)


@pytest.fixture(scope="session")
def wandb_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Isolate the official client's environment for the whole session."""
    root = tmp_path_factory.mktemp("wandb-official")
    mp = pytest.MonkeyPatch()
    for name in _CLEARED:
        mp.delenv(name, raising=False)
    mp.setenv("WANDB_ERROR_REPORTING", "false")
    mp.setenv("WANDB_SILENT", "true")
    mp.setenv("WANDB_DISABLE_GIT", "true")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        target = root / name.lower()
        target.mkdir()
        mp.setenv(name, str(target))
    mp.setenv("NETRC", str(root / "netrc"))
    before = _netrc_state()
    yield root
    import wandb  # imported late: the environment above must be in place first

    wandb.teardown()  # stop the wandb-core child process we started
    mp.undo()
    assert _netrc_state() == before, "the official client wrote to ~/.netrc"


@pytest.fixture(scope="session")
def records() -> list[RunRecord]:
    """The seeded runs of ``ENTITY/PROJECT`` (sweeps, sparse keys, NaN/Inf, media dicts)."""
    return synthetic_project(N_RUNS, seed=SEED, history_steps=HISTORY_STEPS)


@pytest.fixture(scope="session")
def by_id(records: list[RunRecord]) -> dict[str, RunRecord]:
    return {r["id"]: r for r in records}


@pytest.fixture(scope="session")
def long_run() -> dict[str, Any]:
    """One finished run with more history rows than the default 500 samples."""
    rec = synthetic_project(1, seed=SEED + 2, history_steps=LONG_STEPS)[0]
    rec["state"] = "finished"
    return {"project": LONG_PROJECT, "record": rec}


@pytest.fixture(scope="session")
def server(records: list[RunRecord], long_run: dict[str, Any]) -> Iterator[LocalServer]:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, records)
        srv.add_sweeps(ENTITY, PROJECT, synthetic_sweeps(records))
        srv.add_artifacts(ENTITY, PROJECT, synthetic_artifacts(records, seed=SEED))
        srv.add_reports(ENTITY, PROJECT, synthetic_reports(seed=SEED))
        srv.add_runs(ENTITY, WRITE_PROJECT, synthetic_project(3, seed=SEED + 1))
        srv.add_runs(ENTITY, LONG_PROJECT, [long_run["record"]])
        yield srv


@pytest.fixture(scope="session")
def session_api(wandb_env: Path, server: LocalServer) -> Any:
    """One ``wandb.Api`` for the session (no entity override: exercises ``GetDefaultEntity``)."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.url})


@pytest.fixture()
def api(session_api: Any, server: LocalServer) -> Any:
    """The session's ``wandb.Api`` with its run cache flushed and the request log cleared."""
    session_api.flush()
    server.clear_requests()
    return session_api


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/conformance" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.conformance)
