"""Run every benchmark script in turn and print their tables (``make bench``).

Usage::

    .venv/bin/python benchmarks/run_all.py            # modest sizes: the issue-3 listing at 10,000 runs, ...
    .venv/bin/python benchmarks/run_all.py --full     # also 100,000 runs (server seeding alone takes minutes)
    .venv/bin/python benchmarks/run_all.py --quick    # tiny sizes: checks that every script still runs

Each script runs in its own process (``cwd`` = the project root) and also runs standalone with
its own size flags; results and the machine they were measured on are in ``docs/benchmarks.md``.
A failing script is reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OURS = "floor,floor+inner,wandb_frames,wandb_frames(sequential)"

MODEST: list[tuple[str, list[str]]] = [
    ("runs listing: 10,000 runs x ~220 keys, every contender (issue 3)",
     ["runs_listing.py", "--runs", "10000", "--repeat", "1"]),
    ("local server listing speed", ["server_listing.py", "--runs", "10000", "--keys", "100"]),
    ("flatten + assemble (CPU)", ["flatten_micro.py", "--runs", "1000", "10000", "--repeat", "3"]),
    ("local filters on 1,000,000 rows", ["filters_bench.py", "1000000"]),
    ("histories: 50 runs x 2,000 steps x 20 metrics",
     ["history_bench.py", "--runs", "50", "--steps", "2000", "--official-runs", "1", "--server-nodelay"]),
    ("offline runs: 200 runs x 1,000 steps", ["offline_bench.py", "--runs", "200", "--steps", "1000"]),
    ("runs cache: refresh vs full fetch, 10,000 runs", ["cache_bench.py", "--runs", "10000", "--repeat", "3"]),
    ("over a slow link: 0/50/200 ms, 5,000-run table, 300 x 500 histories (issue 15)", ["network.py"]),
    ("runs table to pandas per dtype_backend, 10,000 runs", ["pandas_conversion.py", "--runs", "10000"]),
]
FULL: list[tuple[str, list[str]]] = [
    ("runs listing: 100,000 runs x ~220 keys (floors and wandb-frames)",
     ["runs_listing.py", "--runs", "100000", "--repeat", "1", "--contenders", OURS]),
]
QUICK: list[tuple[str, list[str]]] = [
    ("runs listing (tiny)", ["runs_listing.py", "--runs", "50", "--recipe-runs", "10", "--repeat", "1"]),
    ("local server listing (tiny)", ["server_listing.py", "--runs", "200", "--keys", "20", "--page", "50"]),
    ("flatten + assemble (tiny)", ["flatten_micro.py", "--runs", "200", "--repeat", "1"]),
    ("local filters (tiny)", ["filters_bench.py", "20000"]),
    ("histories (tiny)", ["history_bench.py", "--runs", "4", "--steps", "200", "--metrics", "4",
                          "--official-runs", "1", "--server-nodelay"]),
    ("offline runs (tiny)", ["offline_bench.py", "--runs", "10", "--steps", "50"]),
    ("runs cache (tiny)", ["cache_bench.py", "--runs", "300", "--repeat", "1"]),
    ("over a slow link (tiny)", ["network.py", "--quick"]),
    ("pandas conversion (tiny)", ["pandas_conversion.py", "--runs", "200", "--repeat", "1"]),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="add the 100,000-run listing")
    size.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else MODEST + (FULL if args.full else [])
    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  Python {platform.python_version()}  "
          f"nproc {os.cpu_count()}", flush=True)
    failed = []
    for title, command in plan:
        print(f"\n## {title}\n$ python benchmarks/{' '.join(command)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, os.path.join(HERE, command[0]), *command[1:]],
                              cwd=ROOT, env=env, check=False)
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
        if done.returncode != 0:
            failed.append(title)
    if failed:
        print("\nFAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
