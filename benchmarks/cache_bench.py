"""Benchmark: the on-disk runs cache — full fetch vs incremental refresh (1 % changed).

The server runs in a subprocess (this script's ``--serve`` mode: a ``LocalServer`` seeded
with ``synthetic_project(N, seed=0)``, the same seeding as ``python -m wandb_frames.testing
serve --demo``). The local server's ``upsertBucket`` does not bump ``heartbeatAt`` (as far
as we can tell neither does W&B's for edits that do not come from the run itself), so the
"1 % changed" state is a second server start on the same port with the same seed, where
every 100th run has a new ``heartbeat_at`` and a new summary value.

A refresh sends no filter (``docs/cache.md``): its scan is the same request every time, so
the server's sorted ``-heartbeat_at`` listing is reused; the row "server order not sorted
yet" is the first refresh after the server started (it sorts the 10,000 runs once).

Usage::

    .venv/bin/python benchmarks/cache_bench.py [--runs 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ENTITY, PROJECT = "demo", "sweep-demo"
KEY = "local-" + "b" * 40


def serve(runs: int, port: int, changed_every: int) -> None:
    """Seed and serve until stdin closes (the parent's handle)."""
    from wandb_frames.testing import LocalServer, synthetic

    records = synthetic.synthetic_project(runs, 0)
    if changed_every:
        now = datetime.now(UTC)
        for i in range(0, len(records), changed_every):
            record: Any = records[i]
            record["heartbeat_at"] = now + timedelta(seconds=i % 60)
            record["summary"] = {**record.get("summary", {}), "bench_changed": i}
    server = LocalServer(port=port, api_key=KEY, entity="local")
    server.add_runs(ENTITY, PROJECT, records)
    with server:
        sys.stdout.write(f"URL {server.url}\n")
        sys.stdout.flush()
        sys.stdin.read()


@contextmanager
def server_process(runs: int, port: int, changed_every: int) -> Iterator[str]:
    cmd = [sys.executable, __file__, "--serve", "--runs", str(runs), "--port", str(port),
           "--changed-every", str(changed_every)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("URL "):
            raise RuntimeError(f"server did not start: {line!r}")
        yield line[4:]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)


def same_table(a: Any, b: Any) -> bool:
    """Same fields and values (NaN equal to NaN; column order aside), rows in ``id`` order."""
    if sorted(a.schema, key=lambda f: f.name) != sorted(b.schema, key=lambda f: f.name):
        return False
    left, right = a.sort_by("id"), b.sort_by("id")
    return all(json.dumps(left.column(n).to_pylist(), default=str) ==
               json.dumps(right.column(n).to_pylist(), default=str) for n in a.column_names)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--changed-every", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.runs, args.port, args.changed_every)
        return

    import pyarrow as pa

    import wandb_frames as wf
    from wandb_frames.cache.store import RunsCache

    port = free_port()
    cache_dir = Path(tempfile.mkdtemp(prefix="wf-cache-bench-"))
    rows: list[tuple[str, float, str]] = []

    def api(cache: Any = None) -> wf.Api:
        return wf.Api(api_key=KEY, overrides={"base_url": f"http://127.0.0.1:{port}"},
                      progress=False, cache=cache)

    def fetch(a: wf.Api) -> pa.Table:
        a.flush()
        return a.runs(f"{ENTITY}/{PROJECT}").to_arrow()

    counter = iter(range(1000))

    def cold_cache(source: str) -> RunsCache:
        """A copy of a cache entry (a new process would read the same files)."""
        k = next(counter)
        shutil.copytree(cache_dir / source, cache_dir / f"copy{k}")
        return RunsCache(cache_dir / f"copy{k}")

    def cold_refresh(source: str, repeat: int) -> tuple[float, Any]:
        times, result = [], None
        for _ in range(repeat):
            a = api(cold_cache(source))  # not timed: copying the files
            start = time.perf_counter()
            result = fetch(a)
            times.append(time.perf_counter() - start)
        return statistics.median(times), result

    with server_process(args.runs, port, 0):
        full, table = timed(lambda: fetch(api()), args.repeat)
        rows.append(("full fetch, no cache", full, f"{table.num_rows} runs"))
        first, _ = timed(lambda: fetch(api(RunsCache(cache_dir / "first"))), 1)
        rows.append(("first fetch into an empty cache", first, "full fetch + parquet write"))
        fetch(api(RunsCache(cache_dir / "main")))
        same, _ = cold_refresh("main", args.repeat)
        rows.append(("refresh, nothing changed (new Api)", same, "unfinished runs refetched"))
    size = sum(p.stat().st_size for p in (cache_dir / "main").rglob("*.parquet"))
    with server_process(args.runs, port, 100):
        # the server's first -heartbeat_at listing since it started: it sorts the project
        first_scan, _ = cold_refresh("main", 1)
        rows.append(("refresh, 1 % changed, server order not sorted yet", first_scan, "one run"))
        reference = fetch(api())
        full2, _ = timed(lambda: fetch(api()), args.repeat)
        rows.append(("full fetch, no cache (changed server)", full2, ""))
        cold, result = cold_refresh("main", args.repeat)
        rows.append(("refresh, 1 % changed (new Api: reads file)", cold,
                     f"equals full fetch: {same_table(result, reference)}"))
        warm_cache = RunsCache(cache_dir / "main")
        warm_runs = api(warm_cache).runs(f"{ENTITY}/{PROJECT}")
        warm_runs.to_arrow()

        def again() -> Any:
            warm_runs.refresh()
            return warm_runs.to_arrow()

        warm, _ = timed(again, args.repeat)
        rows.append(("refresh again (same Api: in-memory entry)", warm, "unfinished runs refetched"))
        offline, _ = timed(
            lambda: api(RunsCache(cache_dir / "main")).runs(f"{ENTITY}/{PROJECT}", offline=True).to_arrow(),
            args.repeat,
        )
        rows.append(("offline answer (new Api, base + deltas)", offline, "no request"))
    shutil.rmtree(cache_dir, ignore_errors=True)
    print(f"runs={args.runs} cache file={size / 1e6:.1f} MB python={sys.version.split()[0]} "
          f"cpus={os.cpu_count()}")
    print(f"| {'case':44} | {'seconds':>8} | {'vs full':>8} | note |")
    print(f"| {'-' * 44} | {'-' * 8} | {'-' * 8} | ---- |")
    for name, seconds, note in rows:
        print(f"| {name:44} | {seconds:8.3f} | {full / seconds:7.1f}x | {note} |")


if __name__ == "__main__":
    main()
