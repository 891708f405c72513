"""Micro-benchmark: flatten + assemble decoded runs with ~200 leaf keys each.

Run: ``.venv/bin/python benchmarks/flatten_micro.py [--runs 1000 10000] [--repeat 3]``.
Prints CPU seconds (best of ``--repeat``) and runs/s for each stage and in total; the last two
stages start from GraphQL nodes (JSON strings): ``decode_run_nodes`` + ``TableAssembler.add_runs``
page by page, and ``TableAssembler.add_nodes`` (decoded and flattened node by node).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from wandb_frames.tabular import TableAssembler, decode_run_nodes, flatten_run, runs_to_table


def make_run(i: int, rng: random.Random) -> dict[str, Any]:
    """One decoded run: 16 run fields, 80 config leaves, 100 summary leaves, 20 system leaves."""
    config: dict[str, Any] = {
        "optimizer": {"name": rng.choice(["adam", "sgd"]), "lr": rng.random(), "betas": [0.9, 0.999]},
        "model": {"layers": rng.randint(1, 12), "hidden": {"size": 256, "act": "gelu"}},
        "seed": i,
        "use_amp": rng.random() < 0.5,
    }
    for k in range(72):
        config[f"p{k}"] = rng.random() if k % 3 else rng.randint(0, 100)
    summary: dict[str, Any] = {f"eval/m{k}": rng.random() for k in range(95)}
    summary.update({"_step": i, "_runtime": rng.random() * 1e3, "_timestamp": 1.7e9 + i})
    summary["img"] = {"_type": "image-file", "path": f"media/{i}.png", "width": 64, "height": 64}
    summary["epoch"] = rng.randint(0, 10)
    created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return {
        "id": f"run{i:06d}",
        "name": f"eager-fox-{i}",
        "entity": "e",
        "project": "p",
        "state": "finished",
        "created_at": created,
        "heartbeat_at": created + timedelta(hours=1),
        "duration": 3600.0,
        "tags": ["baseline"] if i % 2 else [],
        "group": None,
        "job_type": "train",
        "sweep": None,
        "user": "alice",
        "host": "node-1",
        "notes": None,
        "commit": "abc123",
        "config": config,
        "config_internal": {"_wandb": {"cli_version": "0.31.0"}},
        "summary": summary,
        "system": {f"gpu.{k}.util": rng.random() for k in range(20)},
    }


def make_node(run: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL ``Run`` node that decodes to ``run`` (JSON strings, config envelopes)."""
    config = {key: {"value": value, "desc": None} for key, value in run["config"].items()}
    config.update({key: {"value": value} for key, value in run["config_internal"].items()})
    return {
        "name": run["id"], "displayName": run["name"], "state": run["state"],
        "createdAt": run["created_at"].isoformat(), "heartbeatAt": run["heartbeat_at"].isoformat(),
        "computeSeconds": run["duration"], "tags": run["tags"], "group": run["group"],
        "jobType": run["job_type"], "sweepName": run["sweep"], "user": {"username": run["user"]},
        "host": run["host"], "notes": run["notes"], "commit": run["commit"],
        "config": json.dumps(config), "summaryMetrics": json.dumps(run["summary"]),
        "systemMetrics": json.dumps(run["system"]),
    }


def best_cpu(fn: Any, repeat: int) -> float:
    """Return the best CPU time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    """Print a table of CPU seconds and runs/s for flatten, assemble and both."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(0)
    print(f"{'runs':>7} {'leaves/run':>10} {'stage':<18} {'cpu s':>8} {'runs/s':>10}")
    for count in args.runs:
        runs = [make_run(i, rng) for i in range(count)]
        leaves = len(flatten_run(runs[0]))
        flat = [flatten_run(r) for r in runs]

        def assemble(flat: list[dict[str, Any]] = flat) -> None:
            asm = TableAssembler()
            for start in range(0, len(flat), 1000):
                asm.add(flat[start : start + 1000])
            asm.finish()

        nodes = [make_node(r) for r in runs]

        def two_steps(nodes: list[dict[str, Any]] = nodes) -> None:
            asm = TableAssembler()
            for start in range(0, len(nodes), 1000):
                asm.add_runs(decode_run_nodes(nodes[start : start + 1000], entity="e", project="p"))
            asm.finish()

        def fused(nodes: list[dict[str, Any]] = nodes) -> None:
            asm = TableAssembler()
            for start in range(0, len(nodes), 1000):
                asm.add_nodes(nodes[start : start + 1000], entity="e", project="p")
            asm.finish()

        stages = {
            "flatten_run": lambda runs=runs: [flatten_run(r) for r in runs],
            "TableAssembler": assemble,
            "runs_to_table": lambda runs=runs: runs_to_table(runs),
            "decode+add_runs": two_steps,
            "add_nodes": fused,
        }
        for stage, fn in stages.items():
            seconds = best_cpu(fn, args.repeat)
            print(f"{count:>7} {leaves:>10} {stage:<18} {seconds:>8.3f} {count / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
