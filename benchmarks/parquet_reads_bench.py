"""Benchmark: reading an exported history in DuckDB, polars and pyarrow, per file layout.

Usage::

    flock /tmp/bench.lock .venv/bin/python benchmarks/parquet_reads_bench.py                # 2,000 x 1,000 x 10
    flock /tmp/bench.lock .venv/bin/python benchmarks/parquet_reads_bench.py --steps 270    # the issue's ~2.7k rows/run

The local server runs in a separate process (``dask_bench.py --serve``), seeded with
``synthetic_project(runs, seed=0, history_steps=steps, n_history_metrics=metrics)``. The
history is fetched once, then written as:

* ``per-run``: one row group per run, zstd: the writer before issue 16;
* ``1M zstd``: ~1M-row groups, zstd, dictionary encoding on every column: the first fix;
* ``int32 metric``: today's layout (LZ4, ~1M-row groups, no float dictionaries) with ``metric``
  typed ``dictionary<int32, string>`` as before §10e (polars reads it into its global
  Categorical row by row);
* ``now``: ``histories.to_parquet(path)`` (streamed from the server), today's writer;
* ``now, dataset``: ``histories.to_parquet(dir, partition_by="batch", batch_size=100)``.

The first three are written with the in-memory schema (``to_arrow()``'s: ``metric``
``dictionary<int32, string>`` without polars's marker), as the writers of their day wrote them.

Queries (each ``--repeat`` times, the files alternated within a repetition; median wall and
CPU seconds of this process, which includes DuckDB's and polars's threads), DuckDB and polars
on ``--threads`` threads:

* ``agg``: ``avg(value)`` per metric over every row;
* ``curve``: one metric (``loss``) for all runs: ``run_id, _step, value``;
* ``run``: every row of one run;
* ``polars scan metric+value``: the two columns the aggregate reads, without the ``group_by``
  (and, printed last, the ``group_by`` alone over those columns already in memory: together
  the floor of the polars aggregate, §10e);
* ``pyarrow read_table`` (what ``pandas.read_parquet`` does), ``pandas read_parquet``,
  ``wf.read_parquet`` (a dataset scan) and ``wf.read_parquet → pandas`` of the whole file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENTITY, PROJECT = "local", "bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", default="", help="comma-separated query labels to run (default: all)")
    args = parser.parse_args()
    os.environ["POLARS_MAX_THREADS"] = str(args.threads)
    warnings.simplefilter("ignore")
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    import wandb_frames as wf
    from wandb_frames.export import memory_schema, parquet_options, row_groups

    child = subprocess.Popen(
        [sys.executable, str(HERE / "dask_bench.py"), "--serve", "--runs", str(args.runs), "--steps",
         str(args.steps), "--metrics", str(args.metrics), "--latency-ms", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    url = child.stdout.readline().split()[1]
    key = child.stdout.readline().split()[1]
    work = Path(tempfile.mkdtemp(prefix="parquet-reads-"))
    try:
        api = wf.Api(api_key=key, overrides={"base_url": url}, progress=False)
        histories = api.runs(f"{ENTITY}/{PROJECT}", per_page=1000).history_frames()
        files = {"per-run": work / "per-run.parquet", "1M zstd": work / "1m-zstd.parquet",
                 "int32 metric": work / "int32-metric.parquet", "now": work / "now.parquet",
                 "now, dataset": work / "dataset"}
        histories.to_parquet(files["now"])
        histories.to_parquet(files["now, dataset"], partition_by="batch", batch_size=100)
        now = pq.ParquetFile(files["now"])
        old_schema = memory_schema(now.schema_arrow)  # metric: dictionary<int32, string>, no marker

        def per_run() -> Iterator[pa.Table]:  # the same rows, one table per run
            table = now.read().cast(old_schema)
            ids = table.column("run_id").to_numpy(zero_copy_only=False)
            starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]] + [len(ids)]
            for a, b in zip(starts, starts[1:], strict=False):
                yield table.slice(a, b - a)

        with pq.ParquetWriter(files["per-run"], old_schema, compression="zstd") as writer:
            for table in per_run():
                writer.write_table(table)
        with pq.ParquetWriter(files["1M zstd"], old_schema, compression="zstd") as writer:
            for group in row_groups(per_run()):
                writer.write_table(group, row_group_size=1 << 20)
        with pq.ParquetWriter(files["int32 metric"], old_schema, **parquet_options(old_schema)) as writer:
            for group in row_groups(per_run()):
                writer.write_table(group, row_group_size=1 << 20)
        del now
        one_run = pq.ParquetFile(files["per-run"]).read_row_group(args.runs // 2, columns=["run_id"])[0][0].as_py()

        def size(path: Path) -> int:
            return sum(p.stat().st_size for p in path.glob("*.parquet")) if path.is_dir() else path.stat().st_size

        def groups(path: Path) -> int:
            paths = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
            return sum(pq.ParquetFile(p).num_row_groups for p in paths)

        rows = pq.read_metadata(files["per-run"]).num_rows
        print(f"{args.runs} runs x {args.steps} steps x {args.metrics} metrics: {rows:,} long rows; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()}; "
              f"DuckDB {duckdb.__version__}, polars {pl.__version__}, pyarrow {pa.__version__}, "
              f"{args.threads} threads")
        for name, path in files.items():
            print(f"  {name}: {groups(path)} row groups, {size(path) / 2**20:.0f} MiB")

        con = duckdb.connect()
        con.execute(f"set threads={args.threads}")

        def src(path: Path) -> str:
            return f"{path}/*.parquet" if path.is_dir() else str(path)

        queries: dict[str, Callable[[Path], Any]] = {
            "DuckDB agg": lambda p: con.sql(
                f"select metric, avg(value) from read_parquet('{src(p)}') group by metric").fetchall(),
            "DuckDB curve": lambda p: con.sql(
                f"select run_id, _step, value from read_parquet('{src(p)}') where metric = 'loss'").to_arrow_table(),
            "DuckDB run": lambda p: con.sql(
                f"select * from read_parquet('{src(p)}') where run_id = '{one_run}'").to_arrow_table(),
            "polars agg": lambda p: pl.scan_parquet(src(p)).group_by("metric").agg(pl.col("value").mean()).collect(),
            "polars scan metric+value": lambda p: pl.scan_parquet(src(p)).select("metric", "value").collect(),
            "polars curve": lambda p: pl.scan_parquet(src(p)).filter(pl.col("metric") == "loss")
            .select("run_id", "_step", "value").collect(),
            "polars run": lambda p: pl.scan_parquet(src(p)).filter(pl.col("run_id") == one_run).collect(),
            "pyarrow read_table": lambda p: pq.read_table(p),
            "pyarrow run": lambda p: ds.dataset(p).to_table(filter=ds.field("run_id") == one_run),
            "pandas read_parquet": lambda p: pd.read_parquet(p),
            "wf.read_parquet": lambda p: wf.read_parquet(p),
            "wf.read_parquet → pandas": lambda p: wf.read_parquet(p).to_pandas(),
        }
        for name, path in files.items():  # what each reader makes of `metric`
            print(f"  {name}: metric is {pl.scan_parquet(src(path)).collect_schema()['metric']} in polars, "
                  f"{pd.read_parquet(path)['metric'].dtype} in pandas, "
                  f"{wf.read_parquet(path).schema.field('metric').type} from wf.read_parquet")
        print("| query | " + " | ".join(files) + " | per-run / now | per-run / dataset | int32 metric / now |")
        print("| --- |" + " ---: |" * (len(files) + 3))
        wanted = [q.strip() for q in args.queries.split(",") if q.strip()] or list(queries)
        for label, query in ((q, queries[q]) for q in wanted):
            walls: dict[str, list[float]] = {n: [] for n in files}
            cpus: dict[str, list[float]] = {n: [] for n in files}
            for name, path in files.items():  # one untimed pass
                query(path)
            for _ in range(args.repeat):
                for name, path in files.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    query(path)
                    walls[name].append(time.perf_counter() - t0)
                    cpus[name].append(time.process_time() - c0)
            wall = {n: statistics.median(v) for n, v in walls.items()}
            cpu = {n: statistics.median(v) for n, v in cpus.items()}
            cells = " | ".join(f"{wall[n]:.3f} / {cpu[n]:.3f}" for n in files)
            print(f"| {label} | {cells} | {wall['per-run'] / wall['now']:.1f}× / {cpu['per-run'] / cpu['now']:.1f}× "
                  f"| {wall['per-run'] / wall['now, dataset']:.1f}× / {cpu['per-run'] / cpu['now, dataset']:.1f}× "
                  f"| {wall['int32 metric'] / wall['now']:.2f}× / {cpu['int32 metric'] / cpu['now']:.2f}× |",
                  flush=True)
        # The floor of the polars aggregate: its group_by alone, over the two columns already in memory.
        decoded = pl.read_parquet(files["now"], columns=["metric", "value"])
        walls_gb, cpus_gb = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            decoded.group_by("metric").agg(pl.col("value").mean())
            walls_gb.append(time.perf_counter() - t0)
            cpus_gb.append(time.process_time() - c0)
        print(f"polars group_by of the decoded metric+value columns in memory (no reading): "
              f"{statistics.median(walls_gb):.3f} / {statistics.median(cpus_gb):.3f}")
        print(f"(wall s / CPU s, median of {args.repeat}; load after: {os.getloadavg()})")
    finally:
        child.stdin.close()
        child.wait(timeout=60)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
