"""What the generated offline runs logged: the tests check every value read back against this."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_frames.offline.columns import HistoryRows
from wandb_frames.offline.reader import _read

PROJECT = "offline-proof"
OTHER_PROJECT = "offline-other"

#: The main run: nested config, a config update mid-run, sparse metrics, summary overrides.
MAIN: dict[str, Any] = {
    "name": "main-run",
    "config": {"lr": 0.001, "model": {"layers": 4, "act": "relu", "dims": [64, 32]}, "seed": 7},
    "config_update": {"batch_size": 128, "model": {"layers": 6}},
    "tags": ["baseline", "offline"],
    "group": "exp-a",
    "job_type": "train",
    "notes": "made by tests/offline",
    "steps": 40,
    "summary_override": {"best_acc": 0.97, "loss": -1.5},
}


def main_row(i: int) -> dict[str, Any]:
    """The metrics logged at step ``i`` of the main run (sparse: acc every 3rd step, nested every 5th)."""
    row: dict[str, Any] = {"loss": 1.0 / (i + 1), "epoch": i // 10}
    if i % 3 == 0:
        row["acc"] = i / 100
    if i % 5 == 0:
        row["eval"] = {"f1": i / 50, "name": f"e{i}"}
    if i == 7:
        row["weird"] = float("nan")
    return row


def expected_main_history() -> list[dict[str, Any]]:
    """The flattened rows the reader should produce (without _timestamp/_runtime)."""
    rows = []
    for i in range(MAIN["steps"]):
        flat: dict[str, Any] = {"_step": i}
        for k, v in main_row(i).items():
            if isinstance(v, dict):
                flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
            else:
                flat[k] = v
        rows.append(flat)
    return rows


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


GENERATE = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[2])
import wandb
from offline_support import MAIN, OTHER_PROJECT, PROJECT, main_row

kind = sys.argv[1]
ids = {}
if kind == "good":
    m = MAIN
    run = wandb.init(mode="offline", project=PROJECT, name=m["name"], config=m["config"],
                     tags=m["tags"], group=m["group"], job_type=m["job_type"], notes=m["notes"])
    for i in range(m["steps"]):
        run.log(main_row(i))
        if i == m["steps"] // 2:
            run.config.update(m["config_update"], allow_val_change=True)
    for k, v in m["summary_override"].items():
        run.summary[k] = v
    ids["main"] = run.id
    run.finish(exit_code=0)
    run = wandb.init(mode="offline", project=PROJECT, name="failing", config={"lr": 0.1}, group="exp-b")
    run.log({"loss": 3.0})
    run.log({"loss": 2.0}, step=5)
    ids["failed"] = run.id
    run.finish(exit_code=2)
    run = wandb.init(mode="offline", project=OTHER_PROJECT, name="elsewhere", config={"lr": 0.5})
    run.log({"loss": 9.0})
    ids["other"] = run.id
    run.finish()
else:
    run = wandb.init(mode="offline", project=PROJECT, name="crasher", config={"lr": 0.2})
    ids["crashed"] = run.id
    with open(sys.argv[3], "w") as fh:
        json.dump(ids, fh)
    for i in range(int(sys.argv[4])):
        run.log({"loss": i * 0.5, "acc": i})
    time.sleep(1.0)
    os._exit(1)
with open(sys.argv[3], "w") as fh:
    json.dump(ids, fh)
'''


CRASH_STEPS = 3000


@dataclass(frozen=True)
class Generated:
    """The ``wandb`` folder and the run IDs by role (main, failed, other, crashed)."""

    wandb_dir: Path
    ids: dict[str, str]

    def file(self, role: str) -> Path:
        return next(self.wandb_dir.glob(f"offline-run-*-{self.ids[role]}/run-{self.ids[role]}.wandb"))


NOW = 2e9
"""The reading time the decoder comparisons use (a run is "running" relative to it)."""


def identical(a: Any, b: Any) -> bool:
    """Strict equality: same types, same dict key order, NaN equals NaN."""
    if isinstance(a, HistoryRows) and isinstance(b, HistoryRows):  # the rows, compared as lists
        a, b = list(a), list(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def read_both(path: Path) -> tuple[Any, Any]:
    """``(entity, project, record, warnings)`` of one file read by the bulk path and by the per-record reference."""
    out = []
    for bulk in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = _read(path, include_files=False, running_window=300.0, now=NOW, bulk=bulk)
        out.append((run.entity, run.project, run.record, [str(w.message) for w in caught]))
    return out[0], out[1]
