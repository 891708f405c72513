"""``make demo``: the whole path on the embedded server, with no W&B account.

Starts the local W&B-compatible server with a synthetic hyper-parameter sweep, fetches a
filtered, ordered runs frame through :class:`wandb_frames.Api`, prints a summary, and
writes under ``out/``: the runs and their loss histories as parquet files, and a PNG of the
loss curves coloured by learning rate (matplotlib, the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import wandb_frames as wf
from wandb_frames.errors import ConfigurationError, LossyConversionWarning
from wandb_frames.testing import LocalServer
from wandb_frames.testing.synthetic import (
    synthetic_artifacts,
    synthetic_project,
    synthetic_reports,
    synthetic_sweeps,
)

ENTITY = "demo"
PROJECT = "sweep-demo"
FILTERS = {"state": "finished", "config.optimizer.lr": {"$gte": 1e-4}}
ORDER = "+summary_metrics.eval/loss"


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m wandb_frames.demo", description=__doc__)
    parser.add_argument("--runs", type=int, default=500, help="runs in the demo project")
    parser.add_argument("--steps", type=int, default=300, help="history steps per run")
    parser.add_argument("--out", default="out", help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    records = synthetic_project(args.runs, seed=0, history_steps=args.steps)
    with LocalServer(entity=ENTITY) as server:
        server.add_runs(ENTITY, PROJECT, records)
        server.add_sweeps(ENTITY, PROJECT, synthetic_sweeps(records))
        server.add_artifacts(ENTITY, PROJECT, synthetic_artifacts(records))
        server.add_reports(ENTITY, PROJECT, synthetic_reports())
        _say(f"local W&B-compatible server at {server.url} with {len(records)} runs in {ENTITY}/{PROJECT}")

        api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url})
        runs = api.runs(f"{ENTITY}/{PROJECT}", filters=FILTERS, order=ORDER, per_page=200)
        _say(f"filters {FILTERS}, order {ORDER!r}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LossyConversionWarning)
            started = time.perf_counter()
            frame = runs.to_pandas()
            elapsed = time.perf_counter() - started
        _say(f"fetched {len(frame)} of {len(records)} runs x {frame.shape[1]} typed columns in {elapsed:.2f} s")
        for warning in caught:
            _say(f"  note: {warning.message}")
        _say()
        _describe(frame)

        runs_path = runs.to_parquet(out / "runs.parquet")
        _say(f"\nwrote {runs_path}")

        histories = runs.history_frames(keys=["loss", "eval/loss"], with_config=["optimizer.lr"])
        started = time.perf_counter()
        table = histories.to_arrow()
        history_path = histories.to_parquet(out / "history.parquet")
        _say(
            f"wrote {history_path}: {table.num_rows} history points of {len(histories.run_ids)} runs "
            f"in {time.perf_counter() - started:.2f} s"
        )
    plot_path = _plot_loss(histories.to_pandas(), out / "loss_curves.png")
    _say(f"wrote {plot_path}" if plot_path else "no plot: matplotlib is not installed (pip install 'wandb-frames[plot]')")
    _say("\nfiles:")
    for path in (runs_path, history_path, plot_path):
        if path is not None:
            _say(f"  {Path(path).resolve()}")
    return 0


def _plot_loss(long: pd.DataFrame, path: Path) -> Path | None:
    """Loss curves, mean ± std per learning-rate quantile group; None without matplotlib."""
    try:
        from wandb_frames.plots import plot_curves

        fig = plot_curves(long, "loss", hue="config.optimizer.lr", bins=4)
    except ConfigurationError as exc:
        if isinstance(exc.__cause__, ImportError):
            return None
        raise
    fig.savefig(path, dpi=100)
    return path


def _describe(frame: pd.DataFrame) -> None:
    """Print a readable summary: the best runs, dtypes by column group, states."""
    shown = ["id", "name", "state", "config.optimizer.name", "config.optimizer.lr", "summary.eval/loss"]
    shown = [c for c in shown if c in frame.columns]
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        _say("best runs by eval/loss:")
        _say(frame[shown].head(8).to_string(index=False))
    groups: dict[str, int] = {}
    for column in frame.columns:
        head = column.split(".", 1)[0] if "." in column else "run"
        groups[head] = groups.get(head, 0) + 1
    _say("\ncolumns by group: " + ", ".join(f"{k}: {v}" for k, v in sorted(groups.items())))
    dtypes = frame.dtypes.astype(str).value_counts()
    _say("dtypes: " + ", ".join(f"{name} x{count}" for name, count in dtypes.items()))


if __name__ == "__main__":
    raise SystemExit(main())
