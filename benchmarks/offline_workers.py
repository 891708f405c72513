"""A/B: ``scan_run_dir(workers=1)`` vs ``workers=2`` on one folder, alternated, with a control.

    flock /tmp/bench.lock .venv/bin/python benchmarks/offline_workers.py --data /tmp/offline-data [--rounds 3]

The folder is the one ``offline_bench.py --data DIR`` made (``DIR/wandb``). Each round reads
and decodes it with one worker and then with two (then the other order in the next round),
and prints wall time, CPU seconds (this process and its workers) and the load average, for
read + decode and for the user-visible total (+ ``LocalRuns`` + the long history frame).
The control: the same pure-Python loop run twice in this process vs once in each of two
processes — the speed-up a machine gives to two processes at that moment (~2.0 on an idle
2-core machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from wandb_frames.offline.folders import scan_run_dir
from wandb_frames.offline.local import LocalRuns
from wandb_frames.offline.reader import record_class


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _control(n: int = 3_000_000) -> float:
    t = time.perf_counter()
    _spin(n)
    _spin(n)
    serial = time.perf_counter() - t
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [10, 10]))  # start the workers first
        t = time.perf_counter()
        list(pool.map(_spin, [n, n]))
        parallel = time.perf_counter() - t
    return serial / parallel


def _once(root: Path, workers: int) -> None:
    t, cpu = time.perf_counter(), _cpu()
    runs = scan_run_dir(root, include_files=False, workers=workers)
    read, read_cpu = time.perf_counter() - t, _cpu() - cpu
    long = LocalRuns(runs).histories()
    total, total_cpu = time.perf_counter() - t, _cpu() - cpu
    print(f"workers={workers}: read+decode {read:5.2f} s (CPU {read_cpu:5.2f} s), total {total:5.2f} s "
          f"(CPU {total_cpu:5.2f} s), {len(runs)} runs, {long.num_rows:,} long rows; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = args.data / "wandb"
    record_class()
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), f"cpus={os.cpu_count()}")
    for r in range(args.rounds):
        print(f"control: two processes {_control():.2f}x one", flush=True)
        for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
            _once(root, workers)
    print(f"control: two processes {_control():.2f}x one")


if __name__ == "__main__":
    main()
