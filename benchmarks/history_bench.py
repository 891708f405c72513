"""Benchmark: full metric histories of many runs, wandb-frames vs wandb's ``scan_history`` loop.

Usage::

    .venv/bin/python benchmarks/history_bench.py                       # 200 runs x 10,000 steps x 20 metrics
    .venv/bin/python benchmarks/history_bench.py --runs 20 --steps 2000 --official-runs 1

The local server runs in a separate process (this script re-launched with ``--serve``), seeded with
``synthetic_project(runs, seed=0, history_steps=steps, n_history_metrics=metrics)``: sparse eval
metrics, NaN/inf, running/crashed runs with partial histories, a live tail on running runs.

Three measurements, each after one untimed warm-up pass (the server writes each run's parquet
export on first request):

* ``floor``: the transport alone: ``RunParquetHistory`` + GET + ``pq.read_table`` per run, same
  thread pool; no conversion, no live tail. Nothing can be faster over this protocol.
* ``wandb-frames``: ``fetch_histories(...).to_arrow()``: the long table, every point.
* ``official``: ``wandb.Api().run(path).scan_history()`` consumed into a list, on the first
  ``--official-runs`` runs only; its total is **extrapolated** by rows/s to all rows.

Rows are history rows (one per logged step, the unit ``scan_history`` yields); points are long
rows (one per step x metric). Peak RSS is sampled every 5 ms above the pre-call RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

import graphql
import psutil
import pyarrow.parquet as pq
import requests

ENTITY, PROJECT = "local", "bench"


def serve(runs: int, steps: int, metrics: int, nodelay: bool) -> None:
    """Child process: seed the server, print URL/KEY, serve until stdin closes."""
    from wandb_frames.testing import LocalServer
    from wandb_frames.testing.synthetic import synthetic_project

    if nodelay:
        # The local server now sets TCP_NODELAY itself (and sends small answers in one write);
        # the switch stays for servers of older checkouts, where a small JSON body waited for
        # the client's delayed ACK (~40 ms per GraphQL answer).
        from wandb_frames.testing import server as server_module

        server_module._Handler.disable_nagle_algorithm = True

    records = synthetic_project(runs, 0, history_steps=steps, n_history_metrics=metrics)
    server = LocalServer().start()
    server.add_runs(ENTITY, PROJECT, records)
    ids = ",".join(r["id"] for r in records)
    rows = sum(len(r.get("history") or []) for r in records)
    sys.stdout.write(f"URL {server.url}\nKEY {server.api_key}\nIDS {ids}\nROWS {rows}\n")
    sys.stdout.flush()
    sys.stdin.read()
    server.stop()


class Executor:
    """Minimal GraphQL executor over one pooled ``requests`` session (Basic ``api:<key>``)."""

    def __init__(self, url: str, key: str, pool: int) -> None:
        self.url = url
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("http://", adapter)
        self.session.auth = ("api", key)

    def execute(self, document: graphql.DocumentNode, variables: Mapping[str, Any], *, operation: str) -> dict[str, Any]:
        body = {"query": graphql.print_ast(document), "variables": dict(variables), "operationName": operation}
        resp = self.session.post(f"{self.url}/graphql", json=body, timeout=300)
        resp.raise_for_status()
        payload = resp.json()
        if payload.get("errors"):
            from wandb_frames.errors import GraphQLError

            raise GraphQLError(str(payload["errors"])[:200], operation=operation, errors=payload["errors"])
        data: dict[str, Any] = payload["data"]
        return data

    def get(self, url: str) -> bytes:
        # Parquet is already compressed: ask for identity (the local server gzips otherwise).
        resp = self.session.get(url, timeout=300, auth=None, headers={"Accept-Encoding": "identity"})
        resp.raise_for_status()
        return resp.content


def measured(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """Run ``fn``; return (result, wall seconds, peak RSS above the start in bytes)."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], proc.memory_info().rss)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    try:
        result = fn()
    finally:
        wall = time.perf_counter() - t0
        done.set()
        t.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return result, wall, peak[0] - base


def floor(ex: Executor, ids: list[str], workers: int) -> int:
    from wandb_frames.history.fetch import load_query

    doc = load_query("RunParquetHistory")

    def one(run_id: str) -> int:
        data = ex.execute(doc, {"entity": ENTITY, "project": PROJECT, "run": run_id, "liveKeys": ["_step"]},
                          operation="RunParquetHistory")
        urls = data["project"]["run"]["parquetHistory"]["parquetUrls"]
        return sum(pq.read_table(BytesIO(ex.get(u))).num_rows for u in urls)

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, ids))


def ours(ex: Executor, ids: list[str], workers: int) -> Any:
    from wandb_frames.history import fetch_histories

    return fetch_histories(ex, ex.get, entity=ENTITY, project=PROJECT, run_ids=ids, max_workers=workers).to_arrow()


def official(url: str, key: str, ids: list[str]) -> int:
    tmp = tempfile.mkdtemp(prefix="wandb-bench-")
    os.environ.update({"WANDB_ERROR_REPORTING": "false", "WANDB_CACHE_DIR": f"{tmp}/cache", "WANDB_DIR": tmp,
                       "WANDB_CONFIG_DIR": f"{tmp}/config", "WANDB_SILENT": "true"})
    import wandb

    api = wandb.Api(api_key=key, overrides={"base_url": url}, timeout=600)
    return sum(len(list(api.run(f"{ENTITY}/{PROJECT}/{rid}").scan_history())) for rid in ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--official-runs", type=int, default=2, help="runs read with wandb (0: skip)")
    ap.add_argument("--server-nodelay", action="store_true",
                    help="force TCP_NODELAY in the server process (the current server sets it anyway)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.runs, args.steps, args.metrics, args.server_nodelay)
        return
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--runs", str(args.runs), "--steps", str(args.steps),
         "--metrics", str(args.metrics), *(["--server-nodelay"] if args.server_nodelay else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        info = dict(child.stdout.readline().strip().split(" ", 1) for _ in range(4))
        url, key, ids, rows = info["URL"], info["KEY"], info["IDS"].split(","), int(info["ROWS"])
        print(f"server (pid {child.pid}) seeded in {time.perf_counter() - t0:.1f}s: {len(ids)} runs, "
              f"{rows:,} history rows, {args.metrics} metrics, server TCP_NODELAY={args.server_nodelay}")
        ex = Executor(url, key, args.workers)
        ours(ex, ids, args.workers)  # warm-up: the server writes parquet exports on first request
        n_floor, w_floor, _ = measured(lambda: floor(ex, ids, args.workers))
        table, w_ours, mem = measured(lambda: ours(ex, ids, args.workers))
        size = table.nbytes
        print(f"floor         {w_floor:7.2f}s  {n_floor / w_floor:12,.0f} rows/s  (parquet GET + read only)")
        print(f"wandb-frames  {w_ours:7.2f}s  {rows / w_ours:12,.0f} rows/s  {table.num_rows / w_ours:12,.0f} points/s  "
              f"{table.num_rows:,} points; table {size / 2**20:,.0f} MiB, peak RSS +{mem / 2**20:,.0f} MiB "
              f"({mem / max(size, 1):.2f}x table)")
        if args.official_runs:
            subset = ids[: args.official_runs]
            n_off, w_off, _ = measured(lambda: official(url, key, subset))
            rate = n_off / w_off
            print(f"official      {w_off:7.2f}s  {rate:12,.0f} rows/s  on {len(subset)} runs ({n_off:,} rows); "
                  f"extrapolated to all rows: {rows / rate:,.0f}s -> wandb-frames is {rows / rate / w_ours:,.0f}x faster")
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=60)


if __name__ == "__main__":
    main()
