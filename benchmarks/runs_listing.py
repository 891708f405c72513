"""Benchmark: list a project's runs into a frame, against a raw-HTTP floor.

The local server runs in a separate process (``python -m wandb_frames.testing serve --demo``);
each contender runs in a fresh child process so its peak RSS is its own. Every contender
is one function ``name(url, key, entity, project, **params) -> dict`` registered in
``CONTENDERS``; add one (e.g. the official client) by writing a function and a line.

    .venv/bin/python benchmarks/runs_listing.py --runs 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ENTITY, PROJECT = "demo", "sweep-demo"
KEY = "local-" + "b" * 40


def _measure(fn: Callable[[], int]) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = fn()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": rows,
    }


def raw_floor(url: str, key: str, entity: str, project: str, per_page: int = 1000, **_: Any) -> dict[str, Any]:
    """requests + orjson: the same RunsPage pages, parsed, nothing else."""
    import orjson
    import requests

    from wandb_frames.graphql.documents import RUNS_PAGE

    def run() -> int:
        session = requests.Session()
        session.auth = ("api", key)
        variables: dict[str, Any] = {
            "entity": entity, "project": project, "filters": "{}", "order": "+created_at",
            "configKeys": None, "summaryKeys": None, "withConfig": True, "withSummary": True,
            "withSystem": True, "withCount": False, "withMetadata": False,
            "metadataNames": None, "first": per_page, "after": None,
        }
        rows = 0
        while True:
            body = orjson.dumps({"query": RUNS_PAGE.text, "variables": variables,
                                 "operationName": RUNS_PAGE.operation})
            resp = session.post(f"{url}/graphql", data=body,
                                headers={"Content-Type": "application/json"}, timeout=120)
            resp.raise_for_status()
            runs = orjson.loads(resp.content)["data"]["project"]["runs"]
            rows += len(runs["edges"])
            if not runs["pageInfo"]["hasNextPage"]:
                return rows
            variables["after"] = runs["edges"][-1]["cursor"]

    return _measure(run)


def wandb_frames_pandas(
    url: str, key: str, entity: str, project: str, per_page: int = 1000, concurrency: int = 0, **_: Any
) -> dict[str, Any]:
    """wandb_frames: ``Api().runs(...).to_pandas()``."""
    import warnings

    warnings.simplefilter("ignore")
    import pandas  # noqa: F401  # imported by the caller anyway; not part of the measurement

    import wandb_frames.filters
    import wandb_frames.tabular  # noqa: F401
    from wandb_frames.api import Api

    def run() -> int:
        api = Api(api_key=key, overrides={"base_url": url}, progress=False)
        df = api.runs(f"{entity}/{project}", per_page=per_page, concurrency=concurrency).to_pandas()
        return len(df)

    result = _measure(run)
    result["columns"] = None
    return result


CONTENDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "raw_floor": raw_floor,
    "wandb_frames": wandb_frames_pandas,
}


def start_server(runs: int) -> tuple[subprocess.Popen[str], str]:
    """Start the demo server in its own process; return it and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.testing", "serve", "--demo", "--runs", str(runs),
         "--history-steps", "2", "--api-key", KEY],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("URL "):
            return proc, line.split(" ", 1)[1].strip()
    proc.kill()
    raise RuntimeError("the server did not print its URL")


def run_child(name: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; return its measurements."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--url", url, "--params", json.dumps(params)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} {params} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--params", default="{}")
    args = parser.parse_args(argv)
    if args.child:
        params = json.loads(args.params)
        print(json.dumps(CONTENDERS[args.child](args.url, KEY, ENTITY, PROJECT, **params)))
        return 0
    plan = [
        ("raw_floor", {"per_page": 1000}),
        ("raw_floor", {"per_page": 500}),
        ("wandb_frames", {"per_page": 1000, "concurrency": 0}),
        ("wandb_frames", {"per_page": 500, "concurrency": 0}),
        ("wandb_frames", {"per_page": 1000, "concurrency": 2}),
        ("wandb_frames", {"per_page": 500, "concurrency": 4}),
    ]
    t0 = time.perf_counter()
    proc, url = start_server(args.runs)
    print(f"server up with {args.runs} runs in {time.perf_counter() - t0:.1f}s at {url}", flush=True)
    try:
        run_child("raw_floor", url, {"per_page": 1000})  # warm the server's caches
        results = []
        for name, params in plan:
            reps = [run_child(name, url, params) for _ in range(args.repeat)]
            best = {k: statistics.median(r[k] for r in reps) for k in ("wall_s", "cpu_s", "peak_rss_mb")}
            results.append((name, params, best, reps[0]["rows"]))
        floor = {p["per_page"]: b["wall_s"] for n, p, b, _ in results if n == "raw_floor"}
        print(f"{'contender':<14}{'params':<36}{'rows':>7}{'wall s':>9}{'cpu s':>8}{'rss MB':>9}{'/floor':>8}")
        for name, params, best, rows in results:
            ratio = best["wall_s"] / floor[params["per_page"]]
            print(f"{name:<14}{json.dumps(params):<36}{rows:>7}{best['wall_s']:>9.2f}"
                  f"{best['cpu_s']:>8.2f}{best['peak_rss_mb']:>9.0f}{ratio:>8.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    raise SystemExit(main())
