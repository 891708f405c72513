"""Helpers of the cache tests: seeded runs, changes, comparisons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from wandb_frames.api import Api
from wandb_frames.cache.store import RunsCache
from wandb_frames.testing import LocalServer

ENTITY, PROJECT = "local", "proj"
START = datetime(2025, 1, 1, tzinfo=UTC)


def make_runs(n: int, *, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` finished/crashed runs (every 10th running), one minute apart, heartbeat +1 h."""
    runs = []
    for i in range(n):
        created = START + timedelta(minutes=i)
        runs.append({
            "id": f"{prefix}{i:04d}",
            "display_name": f"run-{i}",
            "state": "running" if i % 10 == 9 else ("finished" if i % 3 else "crashed"),
            "created_at": created,
            "heartbeat_at": created + timedelta(hours=1),
            "config": {"lr": round(0.001 * (i + 1), 6), "opt": "adam" if i % 2 else "sgd",
                       "layers": i % 4 + 1},
            "summary": {"loss": 1.0 / (i + 1), "acc": (i % 10) / 10},
            "tags": ["even"] if i % 2 == 0 else [],
        })
    return runs


def changed(record: dict[str, Any], **summary: Any) -> dict[str, Any]:
    """A copy of ``record`` with a new heartbeat (now) and summary values."""
    out = dict(record)
    out["heartbeat_at"] = datetime.now(UTC)
    out["summary"] = {**record["summary"], **summary}
    return out


def requests_of(server: LocalServer) -> list[tuple[str | None, Any]]:
    """``(operation, filters)`` of the logged requests."""
    return [(op, variables.get("filters")) for op, variables in server.requests]


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Same fields (column order aside) and values (NaN == NaN), rows in ``id`` order."""
    if sorted(a.schema, key=lambda f: f.name) != sorted(b.schema, key=lambda f: f.name):
        return False
    left, right = a.sort_by("id"), b.sort_by("id")
    return all(
        json.dumps(left.column(n).to_pylist(), default=str)
        == json.dumps(right.column(n).to_pylist(), default=str)
        for n in a.column_names
    )




def make_api(server: LocalServer, cache: Any = None) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, cache=cache)


def fetch(server: LocalServer, cache: Any, **kwargs: Any) -> pa.Table:
    """A fresh Api (and fresh RunsCache object on a cache dir), one to_arrow()."""
    if isinstance(cache, Path):
        cache = RunsCache(cache)
    return make_api(server, cache).runs(f"{ENTITY}/{PROJECT}", **kwargs).to_arrow()
