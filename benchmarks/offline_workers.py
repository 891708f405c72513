"""A/B: ``scan_run_dir(workers=1)`` vs ``workers=2`` on one folder, alternated, with a control.

    flock /tmp/bench.lock .venv/bin/python benchmarks/offline_workers.py --data /tmp/offline-data [--rounds 3]

The folder is the one ``offline_bench.py --data DIR`` made (``DIR/wandb``). Each round reads
and decodes it with one worker and then with two (then the other order in the next round),
and prints wall time, CPU seconds (this process + its workers, and the workers' share) and
the load average, for read + decode and for the user-visible total (+ ``LocalRuns`` + the
long history frame); at the end, each round's speed-up and their medians.
The control: the same pure-Python loop run twice in this process vs once in each of two
processes — the speed-up a machine gives to two processes at that moment (~2.0 on an idle
2-core machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from wandb_frames.offline.folders import scan_run_dir
from wandb_frames.offline.local import LocalRuns
from wandb_frames.offline.reader import record_class


def _cpu() -> float:
    return _own_cpu() + _workers_cpu()


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _workers_cpu() -> float:  # processes that ended and were waited for
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


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


def _once(root: Path, workers: int) -> tuple[float, float]:
    t, cpu, in_workers = time.perf_counter(), _cpu(), _workers_cpu()
    runs = scan_run_dir(root, include_files=False, workers=workers)
    read, read_cpu, worker_cpu = time.perf_counter() - t, _cpu() - cpu, _workers_cpu() - in_workers
    long = LocalRuns(runs).histories()
    total, total_cpu = time.perf_counter() - t, _cpu() - cpu
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} workers={workers}: read+decode {read:5.2f} s "
          f"(CPU {read_cpu:5.2f} s, workers' {worker_cpu:4.2f} s), total {total:5.2f} s "
          f"(CPU {total_cpu:5.2f} s), {len(runs)} runs, {long.num_rows:,} long rows; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    return read, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = args.data / "wandb"
    record_class()
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), f"cpus={os.cpu_count()}")
    read_gains, total_gains = [], []
    for r in range(args.rounds):
        print(f"control: two processes {_control():.2f}x one", flush=True)
        times = {workers: _once(root, workers) for workers in ((1, 2) if r % 2 == 0 else (2, 1))}
        read_gains.append(times[1][0] / times[2][0])
        total_gains.append(times[1][1] / times[2][1])
        print(f"round {r + 1}: speed-up read+decode {read_gains[-1]:.2f}x, total {total_gains[-1]:.2f}x", flush=True)
    print(f"control: two processes {_control():.2f}x one")
    print(f"median speed-up over {args.rounds} rounds: read+decode {statistics.median(read_gains):.2f}x "
          f"(min {min(read_gains):.2f}x), total {statistics.median(total_gains):.2f}x; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
