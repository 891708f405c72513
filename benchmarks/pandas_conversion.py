"""Micro-benchmark: a runs table to pandas with each ``dtype_backend`` (``table_to_pandas``).

Run: ``.venv/bin/python benchmarks/pandas_conversion.py [--runs 10000] [--repeat 5]``.
Builds the table of ``flatten_micro.make_run`` runs (~216 columns: floats, ints, bools,
strings, timestamps, two list columns; one run in seven lacks an int and a bool key, so those
columns become nullable ``Int64``/``boolean``) and prints the best CPU seconds of
``--repeat`` conversions per backend. The default (NumPy columns, NaN missing, lists as tuples)
copies; ``"pyarrow"`` wraps the Arrow buffers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flatten_micro import make_run  # noqa: E402

from wandb_frames.tabular import runs_to_table, table_to_pandas  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    runs = [make_run(i, rng) for i in range(args.runs)]
    for i, run in enumerate(runs):
        if i % 7 == 0:
            run["config"].pop("use_amp", None)
            run["config"].pop("p0", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = runs_to_table(runs)
    print(f"{table.num_rows:,} runs x {table.num_columns} columns ({table.nbytes / 1e6:.0f} MB in Arrow)")
    print(f"{'dtype_backend':<16} {'CPU s (best)':>12}")
    for backend in (None, "numpy_nullable", "pyarrow"):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.process_time()
            table_to_pandas(table, dtype_backend=backend)  # type: ignore[arg-type]
            best = min(best, time.process_time() - start)
        print(f"{backend!s:<16} {best:>12.3f}")


if __name__ == "__main__":
    main()
