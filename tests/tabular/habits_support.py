"""Seed runs for the pandas-habit tests: NaN/±Inf metrics, missing keys, lists, 64-bit seeds.

Every expected value in the tests is computed from these records with plain Python, never
from the frames under test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

ENTITY, PROJECT = "habits", "sweep"
START = datetime(2025, 3, 1, tzinfo=UTC)
NAN, INF = math.nan, math.inf
MISSING: Any = object()

#: summary.eval/loss per run: r1 and r7 diverged (NaN), r3 exploded (+inf), r4 and r8 never
#: logged it. Groups are g0 = r0..r2, g1 = r3..r5, g2 = r6..r8.
LOSS: list[Any] = [0.5, NAN, 0.25, INF, MISSING, 0.75, 0.125, NAN, MISSING]
#: summary.reward: -inf and NaN among numbers.
REWARD: list[float] = [1.0, -INF, 2.0, NAN, 3.0, 4.0, 5.0, -1.0, 0.0]
#: 64-bit random seeds: beyond 2**53, up to 2**63 - 1.
SEEDS: list[int] = [
    2**53 + 1,
    2**63 - 1,
    7,
    9_007_199_254_740_993,
    12_345_678_901_234_567,
    3,
    2**62 + 1,
    -(2**63),
    2**53 + 3,
]
#: config.data_seed: beyond 2**53 and missing in r5 (pandas' float64 would round these).
DATA_SEEDS: list[Any] = [2**60 + i for i in range(9)]
DATA_SEEDS[5] = MISSING
BATCH: list[Any] = [32, MISSING, 64, 64, 32, MISSING, 128, 32, 64]
AMP: list[Any] = [True, False, MISSING, True, True, False, MISSING, True, False]
LAYERS: list[list[int]] = [[64, 64], [], [32], [64, 64], [128, 64, 32], [32], [], [64, 64], [32]]
TAGS: list[list[str]] = [["baseline"], [], ["a", "b"], ["baseline"], [], ["a", "b"], ["x"], [], ["baseline"]]
WARMUP: list[Any] = [4000, "auto", 4000, 100, "auto", 4000, 4000, "auto", 100]
N = len(LOSS)


def run_id(i: int) -> str:
    return f"r{i}"


def lr(i: int) -> float:
    return round(0.001 * (i + 1), 6)


def group(i: int) -> str:
    return f"g{i // 3}"


def history(i: int) -> list[dict[str, Any]]:
    """Four steps of ``loss``; r1 diverges from step 2 on, r7 from step 1 on."""
    diverged_from = {1: 2, 7: 1}.get(i, 99)
    return [
        {"_step": step, "_runtime": float(step), "_timestamp": 1.7e9 + step,
         "loss": NAN if step >= diverged_from else 1.0 / (step + 1 + i)}
        for step in range(4)
    ]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not MISSING:
        target[key] = value


def records() -> list[dict[str, Any]]:
    """The seeded runs, as :class:`wandb_frames.testing.records.RunRecord` dicts."""
    out = []
    for i in range(N):
        config: dict[str, Any] = {"lr": lr(i), "seed": SEEDS[i], "optimizer": "adam" if i % 2 else "sgd",
                                  "layers": LAYERS[i], "warmup": WARMUP[i]}
        _put(config, "data_seed", DATA_SEEDS[i])
        _put(config, "batch_size", BATCH[i])
        _put(config, "amp", AMP[i])
        summary: dict[str, Any] = {"acc": i / 10, "reward": REWARD[i]}
        _put(summary, "eval/loss", LOSS[i])
        out.append({
            "id": run_id(i),
            "state": "failed" if LOSS[i] is not MISSING and math.isnan(LOSS[i]) else "finished",
            "group": group(i),
            "created_at": START + timedelta(minutes=i),
            "config": config,
            "summary": summary,
            "tags": TAGS[i],
            "history": history(i),
        })
    return out


def is_missing_in_pandas(value: Any) -> bool:
    """The rule under test: in pandas, NaN and an absent value are both missing."""
    return value is MISSING or (isinstance(value, float) and math.isnan(value))
