"""Support for the secondary-API-surface tests: seed data, the real ``Api``, the request log.

The tests talk to the local server through :class:`wandb_frames.Api` (the real transport)
and count requests with the server's own log (``LocalServer.requests``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from wandb_frames import Api
from wandb_frames.testing import LocalServer

ENTITY = "local"
PROJECT = "surface"
OTHER_ENTITY = "team"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

SWEEP_CONFIG: dict[str, Any] = {
    "method": "random",
    "name": "lr-search",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"min": 0.0001, "max": 0.1},
        "batch": {"values": [16, 32, 64]},
        "optim": {"parameters": {"beta": {"values": [0.9, 0.99]}}},
    },
}


def make_api(server: LocalServer, **overrides: str) -> Api:
    """The real client core pointed at ``server`` (``overrides`` may add entity/project)."""
    return Api(api_key=server.api_key, overrides={"base_url": server.url, **overrides}, progress=False)


def operations(server: LocalServer) -> list[str]:
    """The operation names the server has received since its log was last cleared."""
    return [str(name) for name, _ in server.requests]


def _runs() -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for i in range(6):
        runs.append({
            "id": f"sw-run-{i}",
            "display_name": f"trial-{i}",
            "state": "finished",
            "created_at": T0 + timedelta(minutes=i),
            "sweep": "sw1" if i < 5 else None,
            "config": {"lr": 0.001 * (i + 1), "batch": [16, 32, 64][i % 3], "optim": {"beta": 0.9}},
            "summary": {"loss": [0.5, 0.2, 0.9, 0.1, 0.3, 0.05][i]},
            "files": {f"file-{k}.txt": f"content {k}" for k in range(5)} if i == 0 else {},
        })
    return runs


def seed(server: LocalServer) -> None:
    """Seed projects, runs, sweeps, artifacts and reports used by every surface test."""
    server.add_runs(ENTITY, PROJECT, _runs())
    for k in range(4):
        server.add_runs(ENTITY, f"extra-{k}", [{"id": f"x{k}", "created_at": T0}])
    server.add_runs(OTHER_ENTITY, "shared", [{"id": "t1", "created_at": T0}])
    server.add_sweeps(ENTITY, PROJECT, [
        {"id": "sw1", "display_name": "LR search", "method": "random", "state": "FINISHED",
         "config": SWEEP_CONFIG, "created_at": T0, "run_count_expected": 10},
        *[{"id": f"sw{k}", "method": "grid", "state": "RUNNING", "created_at": T0 + timedelta(hours=k),
           "config": {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}} for k in range(2, 6)],
    ])
    server.add_artifacts(ENTITY, PROJECT, [
        *[{"name": "data", "type": "dataset", "digest": f"{k:032x}", "size": 100 + k,
           "description": f"split {k}", "metadata": {"rows": 10 * k, "source": {"name": "s3", "v": k}},
           "created_at": T0 + timedelta(minutes=k), "logged_by": "sw-run-0", "used_by": ["sw-run-1"],
           "aliases": ["best"] if k == 2 else []} for k in range(5)],
        {"name": "mixed", "type": "dataset", "metadata": {"k": 1, "img": {"_type": "image-file", "path": "a.png"}}},
        {"name": "mixed", "type": "dataset", "metadata": {"k": "auto", "img": None}},
        {"name": "weights", "type": "model", "digest": "f" * 32, "size": 5000,
         "metadata": {"acc": 0.93}, "created_at": T0, "logged_by": "sw-run-1", "aliases": ["prod"]},
    ])
    server.add_reports(ENTITY, PROJECT, [
        {"id": f"Vmlldzo{k}", "name": f"report-{k}", "display_name": f"Weekly report {k}",
         "description": f"week {k}", "user": "alice", "spec": {"blocks": [{"type": "paragraph", "k": k}]},
         "created_at": T0 + timedelta(days=k), "updated_at": T0 + timedelta(days=k, hours=1)}
        for k in range(5)
    ])
