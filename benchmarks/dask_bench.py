"""Benchmark: histories to a partitioned dataset, one process vs a two-worker Dask cluster; reading it.

Usage::

    .venv/bin/python benchmarks/dask_bench.py                    # 2,000 runs x 1,000 steps x 10 metrics
    .venv/bin/python benchmarks/dask_bench.py --runs 200 --steps 200 --repeat 1   # quick

The local server runs in a separate process, seeded with ``synthetic_project(runs, seed=0,
history_steps=steps, n_history_metrics=metrics)``. One untimed pass first (the server writes
each run's parquet export on first request). Then, ``--repeat`` times each, alternating:

* ``single process``: ``histories.to_parquet(dir, partition_by="batch", batch_size=B)``;
* ``LocalCluster(n_workers=2, threads_per_worker=1)``: the same call with ``use_dask=True``
  (the batches run as tasks on the two worker processes; the key reaches them by
  ``ApiKeyPlugin``).

``--latency-ms`` makes the server add that latency to every request (``testing.network``), as
a link to W&B does: the fetch then waits on the network, not on the two cores.

CPU seconds (user + system, all threads) of this process, the server process and each
worker process are printed per pass: on loopback they bound the speed-up two workers can give
on a 2-core machine. Peak RSS is sampled every 20 ms: of this process (single) and of each worker process (Dask),
above its RSS before the call. ``--synthetic-reads`` only compares the reads below on generated
long tables (``--runs``, ``--steps``, ``--metrics``), without a server. Then reading, ``--repeat`` times each: DuckDB and polars compute
``avg(value)`` per metric over (a) the file written the old way (one row group per run), (b)
one file in ~1M-row groups (today's ``Histories.to_parquet``), (c) the partitioned dataset.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

ENTITY, PROJECT = "local", "bench"


def serve(runs: int, steps: int, metrics: int, latency_ms: float) -> None:
    """Child process: seed the server, print URL/KEY, serve until stdin closes."""
    from wandb_frames.testing import LocalServer
    from wandb_frames.testing.network import Network
    from wandb_frames.testing.synthetic import synthetic_project

    records = synthetic_project(runs, 0, history_steps=steps, n_history_metrics=metrics)
    network = Network(latency=latency_ms / 1000) if latency_ms else None
    server = LocalServer(network=network).start()
    server.add_runs(ENTITY, PROJECT, records)
    sys.stdout.write(f"URL {server.url}\nKEY {server.api_key}\n")
    sys.stdout.flush()
    sys.stdin.read()
    server.stop()


class PeakRss:
    """Samples the RSS of some processes every 20 ms; ``peaks`` above each one's start RSS."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]
        self.start = [p.memory_info().rss for p in self.procs]
        self.peak = list(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, p in enumerate(self.procs):
                try:
                    self.peak[i] = max(self.peak[i], p.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peaks_mib(self) -> list[float]:
        return [(p - s) / 2**20 for p, s in zip(self.peak, self.start, strict=True)]

    @property
    def absolute_mib(self) -> list[float]:
        return [p / 2**20 for p in self.peak]


def cpu_seconds(procs: list[psutil.Process]) -> list[float]:
    """User + system CPU seconds so far of each process (all its threads)."""
    out = []
    for p in procs:
        t = p.cpu_times()
        out.append(t.user + t.system)
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores, every process) so far."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def write_one_group_per_run(histories: Any, path: Path) -> None:
    """The old single-file writer: one ``write_table`` (so one row group) per run."""
    with pq.ParquetWriter(path, histories.schema, compression="zstd") as writer:
        for table in histories._iter_tables():
            writer.write_table(table)


def synthetic_reads(runs: int, steps: int, metrics: int, repeat: int) -> None:
    """Read speed of one row group per run vs ~1M-row groups on generated long tables (no server)."""
    import duckdb
    import numpy as np
    import polars as pl
    import pyarrow as pa

    from wandb_frames.export import write_parquet_stream
    from wandb_frames.history.frames import LONG_SCHEMA

    names = pa.array([f"metric_{i:02d}" for i in range(metrics)])

    def tables() -> Any:
        rng = np.random.default_rng(0)
        n = steps * metrics
        codes = pa.array(np.tile(np.arange(metrics, dtype=np.int32), steps))
        for r in range(runs):
            yield pa.table({
                "run_id": pa.array([f"run{r:05d}"] * n),
                "_step": pa.array(np.repeat(np.arange(steps), metrics)),
                "metric": pa.DictionaryArray.from_arrays(codes, names),
                "value": pa.array(rng.random(n)),
                "_timestamp": pa.array(np.repeat(1.7e9 + np.arange(steps, dtype=float), metrics)),
                "_runtime": pa.array(np.repeat(np.arange(steps, dtype=float), metrics)),
            }, schema=LONG_SCHEMA)

    work = Path(tempfile.mkdtemp(prefix="dask-bench-reads-"))
    try:
        old, new = work / "old.parquet", work / "new.parquet"
        with pq.ParquetWriter(old, LONG_SCHEMA, compression="zstd") as writer:
            for table in tables():
                writer.write_table(table)
        write_parquet_stream(tables(), LONG_SCHEMA, new)
        con = duckdb.connect()
        print(f"synthetic: {runs} runs x {steps} steps x {metrics} metrics = {runs * steps * metrics:,} rows")
        for name, path in (("one row group per run", old), ("~1M-row groups", new)):
            duck = statistics.median(timed(lambda: con.execute(
                f"select metric, avg(value) from read_parquet('{path}') group by metric").fetchall())
                for _ in range(repeat))
            polars = statistics.median(timed(lambda: pl.scan_parquet(path).group_by("metric")
                                             .agg(pl.col("value").mean()).collect()) for _ in range(repeat))
            arrow = statistics.median(timed(lambda: pq.read_table(path)) for _ in range(repeat))
            print(f"read {name} ({pq.ParquetFile(path).num_row_groups} groups): DuckDB {duck:.3f} s, "
                  f"polars {polars:.3f} s, pyarrow read_table {arrow:.3f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request by the server")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--synthetic-reads", action="store_true",
                        help="only compare read speeds on generated long tables (no server)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.runs, args.steps, args.metrics, args.latency_ms)
        return
    if args.synthetic_reads:
        synthetic_reads(args.runs, args.steps, args.metrics, args.repeat)
        return
    warnings.simplefilter("ignore")
    import duckdb
    import polars as pl
    from distributed import Client, LocalCluster

    import wandb_frames as wf
    from wandb_frames.distributed import ApiKeyPlugin

    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--runs", str(args.runs), "--steps", str(args.steps),
         "--metrics", str(args.metrics), "--latency-ms", str(args.latency_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    url = child.stdout.readline().split()[1]
    key = child.stdout.readline().split()[1]
    print(f"server seeded in {time.perf_counter() - t0:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="dask-bench-"))
    try:
        api = wf.Api(api_key=key, overrides={"base_url": url}, progress=False)
        runs = api.runs(f"{ENTITY}/{PROJECT}", per_page=1000)
        histories = runs.history_frames()
        rows = histories.to_parquet(work / "warm", partition_by="batch", batch_size=args.batch_size)
        long_rows = sum(pq.read_metadata(f).num_rows for f in Path(rows).glob("*.parquet"))
        print(f"{len(histories.run_ids)} runs, {long_rows:,} long rows; machine: {platform.platform()}, "
              f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        single: list[float] = []
        cluster_walls: list[float] = []
        single_peak: list[float] = []
        worker_peaks: list[list[float]] = []
        server, me = psutil.Process(child.pid), psutil.Process()
        single_cpu: list[tuple[float, float]] = []  # (this process, server)
        cluster_cpu: list[tuple[float, list[float], float]] = []  # (this process, workers, server)
        others: list[tuple[float, float]] = []  # CPU s of the machine's other processes: (single, cluster)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.register_plugin(ApiKeyPlugin(api))
            worker_pids = list(client.run(os.getpid).values())
            # one untimed pass on the cluster too (imports, connection pools)
            histories.to_parquet(work / "warm-dask", partition_by="batch", batch_size=args.batch_size,
                                 use_dask=True)
            workers = [psutil.Process(pid) for pid in worker_pids]
            for i in range(args.repeat):
                before, busy = cpu_seconds([me, server]), machine_busy()
                with PeakRss([os.getpid()]) as rss:
                    single.append(timed(lambda: histories.to_parquet(
                        work / f"single-{i}", partition_by="batch", batch_size=args.batch_size)))
                after, single_others = cpu_seconds([me, server]), machine_busy() - busy
                single_cpu.append((after[0] - before[0], after[1] - before[1]))
                single_others -= sum(single_cpu[-1])
                single_peak.append(rss.peaks_mib[0])
                before, busy = cpu_seconds([me, server, *workers]), machine_busy()
                with PeakRss(worker_pids) as rss:
                    cluster_walls.append(timed(lambda: histories.to_parquet(
                        work / f"dask-{i}", partition_by="batch", batch_size=args.batch_size, use_dask=True)))
                after, cluster_others = cpu_seconds([me, server, *workers]), machine_busy() - busy
                spent = [b - a for a, b in zip(before, after, strict=True)]
                others.append((single_others, cluster_others - sum(spent)))
                cluster_cpu.append((spent[0], spent[2:], spent[1]))
                worker_peaks.append(rss.absolute_mib)
        s, d = statistics.median(single), statistics.median(cluster_walls)
        print(f"export, single process: {s:.2f} s (all: {', '.join(f'{x:.2f}' for x in single)}), "
              f"peak RSS +{max(single_peak):.0f} MiB")
        print(f"export, LocalCluster(2): {d:.2f} s (all: {', '.join(f'{x:.2f}' for x in cluster_walls)}), "
              f"peak RSS per worker {max(max(p) for p in worker_peaks):.0f} MiB (absolute)")
        print(f"speed-up: {s / d:.2f}x (latency {args.latency_ms:g} ms per request)")
        for (mine, srv), wall, (other, _) in zip(single_cpu, single, others, strict=True):
            print(f"  CPU s, single: this process {mine:.2f} ({mine / wall:.2f} cores), server {srv:.2f}; "
                  f"total {mine + srv:.2f} in {wall:.2f} s wall; other processes {other:.2f}")
        for (mine, per_worker, srv), wall, (_, other) in zip(cluster_cpu, cluster_walls, others, strict=True):
            print(f"  CPU s, LocalCluster(2): this process {mine:.2f}, workers "
                  f"{' + '.join(f'{w:.2f}' for w in per_worker)}, server {srv:.2f}; "
                  f"total {mine + sum(per_worker) + srv:.2f} in {wall:.2f} s wall; other processes {other:.2f}")
        total = statistics.median(a + b for a, b in single_cpu)
        print(f"  bound on 2 cores: the single process's work ({total:.2f} CPU s) takes >= {total / 2:.2f} s "
              f"on 2 cores, so speed-up <= {s / (total / 2):.2f}x (before any Dask overhead)")
        if args.skip_reads:
            return

        old = work / "one-group-per-run.parquet"
        write_one_group_per_run(histories, old)
        new = histories.to_parquet(work / "row-groups.parquet")
        dataset = work / "single-0"
        print(f"row groups: old {pq.ParquetFile(old).num_row_groups}, new {pq.ParquetFile(new).num_row_groups}, "
              f"dataset {sum(pq.ParquetFile(f).num_row_groups for f in dataset.glob('*.parquet'))} "
              f"in {len(list(dataset.glob('*.parquet')))} files")
        targets = {"one row group per run": str(old), "~1M-row groups": str(new),
                   "partitioned dataset": f"{dataset}/*.parquet"}
        con = duckdb.connect()
        for name, source in targets.items():
            duck = [timed(lambda: con.execute(
                f"select metric, avg(value) from read_parquet('{source}') group by metric").fetchall())
                for _ in range(args.repeat)]
            polars = [timed(lambda: pl.scan_parquet(source).group_by("metric").agg(pl.col("value").mean())
                            .collect()) for _ in range(args.repeat)]
            print(f"read {name}: DuckDB {statistics.median(duck):.3f} s, polars {statistics.median(polars):.3f} s")
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
