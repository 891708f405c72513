"""Benchmark: full metric histories of many runs, wandb-frames vs wandb's ``scan_history`` loop.

Usage::

    .venv/bin/python benchmarks/history_bench.py                       # 200 runs x 10,000 steps x 20 metrics
    .venv/bin/python benchmarks/history_bench.py --runs 20 --steps 2000 --official-runs 1

The local server runs in a separate process (this script re-launched with ``--serve``), seeded with
``synthetic_project(runs, seed=0, history_steps=steps, n_history_metrics=metrics)``: sparse eval
metrics, NaN/inf, running/crashed runs with partial histories, a live tail on running runs.

Three measurements, each after one untimed warm-up pass (the server writes each run's parquet
export on first request); ``floor`` and ``wandb-frames`` alternate ``--repeat`` times and the
medians are reported, with the CPU seconds spent by this process (client) and by the server
process during each call (2 shared cores: their sum against 2 x wall shows who is the limit):

* ``floor``: the transport alone: ``RunParquetHistory`` + GET + ``pq.read_table`` (from a
  zero-copy ``pa.BufferReader``) per run, same thread pool; no conversion, no live tail.
  Nothing can be faster over this protocol. ``floor, kept`` keeps the tables until the call
  ends, as any result must (fresh memory costs page faults; the plain floor reuses freed memory).
* ``wandb-frames``: ``fetch_histories(...).to_arrow()``: the long table, every point.
* ``official``: ``wandb.Api().run(path).scan_history()`` consumed into a list, on the first
  ``--official-runs`` runs only; its total is **extrapolated** by rows/s to all rows.

Rows are history rows (one per logged step, the unit ``scan_history`` yields); points are long
rows (one per step x metric). Peak RSS is sampled every 5 ms above the pre-call RSS, in the
warm-up pass (a fresh process; later passes reuse memory the earlier ones freed). The table size is ``Table.nbytes`` (logical: a buffer shared by several chunks counts each time, as a
copy would cost); ``distinct`` is ``get_total_buffer_size()`` (each buffer once: the memory it
really holds, since dense metrics share the export's ``_step``/``_timestamp``/``_runtime``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

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


def client(url: str, key: str, workers: int) -> Any:
    """The real client (``wandb_frames.Api``): its transport (pooled session, one-call body reads,
    retries) carries both the floor's and wandb-frames' requests."""
    import wandb_frames as wf

    return wf.Api({"base_url": url}, api_key=key, timeout=300, concurrency=workers, progress=False, cache=False)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def measured(fn: Callable[[], Any], server: psutil.Process | None = None) -> tuple[Any, float, int, float, float]:
    """Run ``fn``; return (result, wall s, peak RSS above the start in bytes, client CPU s, server CPU s)."""
    proc = psutil.Process()
    cpu0, srv0 = _cpu(proc), (_cpu(server) if server else 0.0)
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
    return result, wall, peak[0] - base, _cpu(proc) - cpu0, (_cpu(server) - srv0) if server else 0.0


def floor(api: Any, ids: list[str], workers: int, keep: bool = False) -> int:
    from wandb_frames.history.fetch import load_query
    from wandb_frames.history import parquet_getter

    doc, get = load_query("RunParquetHistory"), parquet_getter(api)

    def one(run_id: str) -> int:
        data = api.execute(doc, {"entity": ENTITY, "project": PROJECT, "run": run_id, "liveKeys": ["_step"]},
                           operation="RunParquetHistory")
        urls = data["project"]["run"]["parquetHistory"]["parquetUrls"]
        tables = [pq.read_table(pa.BufferReader(get(u))) for u in urls]
        if keep:
            kept.extend(tables)
        return sum(t.num_rows for t in tables)

    kept: list[Any] = []
    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, ids))


def ours(api: Any, ids: list[str], workers: int) -> Any:
    from wandb_frames.history import fetch_histories
    from wandb_frames.history import parquet_getter

    return fetch_histories(api, parquet_getter(api), entity=ENTITY, project=PROJECT, run_ids=ids,
                           max_workers=workers).to_arrow()


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
    ap.add_argument("--repeat", type=int, default=3, help="timed floor/wandb-frames passes (medians reported)")
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
        ex = client(url, key, args.workers)
        server = psutil.Process(child.pid)
        # Warm-up (the server writes parquet exports on first request); its peak RSS is the one
        # reported: the process has not yet grown, so later passes cannot reuse freed memory.
        _, _, mem, *_ = measured(lambda: ours(ex, ids, args.workers).num_rows)
        load = os.getloadavg()[0]
        floors, kept, runs_ours = [], [], []
        for _ in range(max(1, args.repeat)):
            floors.append(measured(lambda: floor(ex, ids, args.workers), server))
            kept.append(measured(lambda: floor(ex, ids, args.workers, keep=True), server))
            runs_ours.append(measured(lambda: ours(ex, ids, args.workers), server))
            runs_ours[-1] = (runs_ours[-1][0].num_rows, *runs_ours[-1][1:])  # free the table
        table = ours(ex, ids, args.workers)
        size, distinct, points = table.nbytes, table.get_total_buffer_size(), table.num_rows
        del table

        def med(results: list[tuple[Any, ...]], i: int) -> float:
            return float(statistics.median(r[i] for r in results))

        n_floor = floors[0][0]
        w_floor, w_kept, w_ours = med(floors, 1), med(kept, 1), med(runs_ours, 1)
        print(f"load average (1 min) before/after: {load:.2f}/{os.getloadavg()[0]:.2f}; {args.repeat} passes, medians; walls "
              f"floor {[round(r[1], 2) for r in floors]}, kept {[round(r[1], 2) for r in kept]}, wandb-frames {[round(r[1], 2) for r in runs_ours]}")
        print(f"floor         {w_floor:7.2f}s  {n_floor / w_floor:12,.0f} rows/s  (parquet GET + read only)  "
              f"CPU client {med(floors, 3):.2f}s server {med(floors, 4):.2f}s")
        print(f"floor, kept   {w_kept:7.2f}s  {n_floor / w_kept:12,.0f} rows/s  (same, tables kept to the end)  "
              f"CPU client {med(kept, 3):.2f}s server {med(kept, 4):.2f}s")
        print(f"wandb-frames  {w_ours:7.2f}s  {rows / w_ours:12,.0f} rows/s  {points / w_ours:12,.0f} points/s  "
              f"{points:,} points  CPU client {med(runs_ours, 3):.2f}s server {med(runs_ours, 4):.2f}s")
        print(f"              table {size / 2**20:,.0f} MiB ({distinct / 2**20:,.0f} MiB distinct buffers), "
              f"peak RSS +{mem / 2**20:,.0f} MiB in the first (warm-up) pass ({mem / max(size, 1):.2f}x table)")
        if args.official_runs:
            subset = ids[: args.official_runs]
            n_off, w_off, *_ = measured(lambda: official(url, key, subset))
            rate = n_off / w_off
            print(f"official      {w_off:7.2f}s  {rate:12,.0f} rows/s  on {len(subset)} runs ({n_off:,} rows); "
                  f"extrapolated to all rows: {rows / rate:,.0f}s -> wandb-frames is {rows / rate / w_ours:,.0f}x faster")
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=60)


if __name__ == "__main__":
    main()
