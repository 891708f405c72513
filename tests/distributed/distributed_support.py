"""Shared data of the distributed tests: runs whose columns vary across batches, fault settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wandb_frames.graphql.transport import RetryPolicy
from wandb_frames.testing.faults import Faults

ENTITY = "local"
START = datetime(2025, 1, 1, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=12, deadline=60.0, base_delay=0.01, max_delay=0.05, jitter=0.0)
FAULTS = Faults(seed=7, rate_limit=0.15, retry_after=0.01, server_error=0.15, truncate=0.05)


def make_runs(n: int, prefix: str = "r", *, steps: int = 6) -> list[dict[str, Any]]:
    """Runs whose columns vary: a key only in later runs, a column of mixed kinds, media."""
    runs = []
    for i in range(n):
        config: dict[str, Any] = {"lr": 0.001 * (i + 1), "opt": "adam" if i % 2 else "sgd",
                                  "mixed": i if i % 4 else "auto", "layers": [i, i + 1]}
        summary: dict[str, Any] = {"loss": 1.0 / (i + 1), "img": {"_type": "image-file", "path": f"{i}.png"}}
        if i >= n // 2:
            config["late"] = {"depth": i}  # absent from the first half of the runs
            summary["late_acc"] = i / n
        runs.append({
            "id": f"{prefix}{i:03d}",
            "state": ("finished", "crashed", "running")[i % 3],
            "created_at": START + timedelta(minutes=i),
            "config": config,
            "summary": summary,
            "tags": ["x"] if i % 2 else ["x", "y"],
            "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s,
                         "loss": 1.0 / (s + i + 1), "acc": s / 10, **({"extra": s} if i % 5 == 0 else {})}
                        for s in range(steps)],
        })
    return runs


RUNS = make_runs(24)
