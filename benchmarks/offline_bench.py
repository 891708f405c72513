"""Benchmark: read N offline runs × M steps into a runs frame and a long history frame.

Files are written in the SDK's exact format (our framing + ``wandb``'s ``Record`` messages,
shaped like ``wandb-core`` 0.31 output: a summary record before every history record), not by
the SDK itself, which would take minutes to make 1,000 runs.

    .venv/bin/python benchmarks/offline_bench.py --runs 1000 --steps 1000 [--workers 2] [--data DIR]

``--workers`` decodes the files in that many processes (``scan_run_dir(workers=…)``; 1 =
in this thread). ``--data DIR`` keeps the generated folder in DIR and reuses it on the next
run (so serial and parallel, or two versions of the reader, read the same files).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from wandb_frames.offline.framing import frame_records
from wandb_frames.offline.local import LocalRuns
from wandb_frames.offline.folders import scan_run_dir
from wandb_frames.offline.reader import record_class

METRICS = ("loss", "acc", "lr", "grad_norm", "val/loss")


def _write_run(root: Path, i: int, steps: int) -> None:
    record = record_class()
    run_id = f"r{i:05d}"
    t0 = 1.7e9 + i * 60
    out: list[bytes] = []
    r = record()
    r.run.run_id, r.run.project, r.run.display_name = run_id, "bench", f"run-{i}"
    r.run.start_time.FromNanoseconds(int(t0 * 1e9))
    r.run.tags.append("bench")
    for key, value in {"lr": 0.001 * (i % 7 + 1), "model": {"layers": i % 5, "act": "relu"}, "seed": i}.items():
        item = r.run.config.update.add()
        item.key, item.value_json = key, json.dumps(value)
    out.append(r.SerializeToString())
    for s in range(steps):
        values = {"loss": 1.0 / (s + 1), "acc": s / steps, "lr": 0.001, "grad_norm": (s % 13) * 0.1,
                  "val/loss": 1.1 / (s + 1)}
        values.update(_step=s, _runtime=s * 0.5, _timestamp=t0 + s * 0.5)
        summ, hist = record(), record()
        for key, value in values.items():
            text = json.dumps(value)
            a = summ.summary.update.add()
            a.nested_key.append(key)
            a.value_json = text
            b = hist.history.item.add()
            b.nested_key.append(key)
            b.value_json = text
        hist.history.step.num = s
        out += [summ.SerializeToString(), hist.SerializeToString()]
    ex = record()
    ex.exit.exit_code, ex.exit.runtime = 0, int(steps * 0.5)
    out.append(ex.SerializeToString())
    run_dir = root / f"offline-run-20260101_000000-{run_id}"
    run_dir.mkdir(parents=True)
    (run_dir / f"run-{run_id}.wandb").write_bytes(frame_records(out))


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="processes decoding files (1: this thread)")
    parser.add_argument("--data", type=Path, default=None, help="keep/reuse the generated wandb folder here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.data or Path(tmp)) / "wandb"
        stamp = root / f"complete-{args.runs}x{args.steps}"
        t = time.perf_counter()
        if not stamp.exists():
            if root.exists():
                shutil.rmtree(root)
            for i in range(args.runs):
                _write_run(root, i, args.steps)
            stamp.touch()
            print(f"wrote {args.runs} runs x {args.steps} steps in {time.perf_counter() - t:.1f} s")
        size = sum(p.stat().st_size for p in root.rglob("*.wandb"))
        print(f"{args.runs} runs x {args.steps} steps: {size / 1e6:.1f} MB of .wandb files; workers={args.workers}")
        record_class()  # import wandb's messages before timing, as a warm process would have
        t, cpu = time.perf_counter(), _cpu_seconds()
        runs = scan_run_dir(root, include_files=False, workers=args.workers)
        t_read, cpu_read = time.perf_counter() - t, _cpu_seconds() - cpu
        t = time.perf_counter()
        local = LocalRuns(runs)
        frame = local.to_pandas()
        t_frame = time.perf_counter() - t
        t = time.perf_counter()
        long = local.histories()
        t_hist = time.perf_counter() - t
        print(f"read+decode files : {t_read:7.2f} s  ({size / 1e6 / t_read:.0f} MB/s, {args.runs * args.steps / t_read:,.0f} steps/s;"
              f" CPU {cpu_read:.2f} s in all processes; load average {os.getloadavg()[0]:.1f})")
        print(f"runs frame        : {t_frame:7.2f} s  ({frame.shape[0]} x {frame.shape[1]})")
        print(f"long history frame: {t_hist:7.2f} s  ({long.num_rows:,} rows)")
        print(f"total             : {t_read + t_frame + t_hist:7.2f} s")


if __name__ == "__main__":
    main()
