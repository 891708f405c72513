"""Deterministic synthetic sweep, artifact and report seed records (the project's catalog).

They complement the run records of :mod:`wandb_frames.testing.synthetic` (which re-exports
every public name here): sweeps are derived from the runs' ``sweep`` ids, artifacts from
their states and times, reports stand alone. Same seed, same records; nothing reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from wandb_frames.testing.records import ArtifactRecord, ReportRecord, RunRecord, SweepRecord

__all__ = [
    "DEFAULT_START",
    "SWEEP_IDS",
    "SWEEP_SPACES",
    "USERS",
    "as_utc",
    "synthetic_artifacts",
    "synthetic_reports",
    "synthetic_sweeps",
]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Creation time of the first synthetic run (and the reports' reference time)."""

USERS = ("alice", "bob", "chen")
"""Usernames of run owners and report authors."""

#: Sweep id -> (method, search space over dotted config paths, share of sweep runs).
SWEEP_SPACES: dict[str, tuple[str, dict[str, dict[str, Any]], float]] = {
    "sw-lr-grid": ("grid", {
        "optimizer.lr": {"values": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]},
        "data.batch_size": {"values": [32, 64, 128]},
    }, 0.45),
    "sw-arch-random": ("random", {
        "model.layers": {"values": [2, 4, 8, 12]},
        "model.hidden": {"values": [128, 256, 512, 1024]},
        "model.dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    }, 0.30),
    "sw-bayes-opt": ("bayes", {
        "optimizer.lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "optimizer.weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-2},
        "model.dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    }, 0.25),
}
SWEEP_IDS = tuple(SWEEP_SPACES)


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or ISO text (naive means UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def synthetic_sweeps(records: Iterable[RunRecord]) -> list[SweepRecord]:
    """Return one sweep record per sweep id used by ``records``, in order of first use.

    The config is the sweep's search space in W&B's nested form
    (``{"metric": {"name": "eval/loss", "goal": "minimize"}, "parameters": {...}}``).
    """
    first: dict[str, datetime] = {}
    running: set[str] = set()
    for run in records:
        sweep = run.get("sweep")
        if sweep is None:
            continue
        created = as_utc(run.get("created_at", DEFAULT_START))
        first[sweep] = min(first.get(sweep, created), created)
        if run.get("state") == "running":
            running.add(sweep)
    sweeps: list[SweepRecord] = []
    for sweep, created in first.items():
        method, space, _ = SWEEP_SPACES.get(sweep, ("random", {}, 0.0))
        parameters: dict[str, Any] = {}
        for path, spec in space.items():
            section, key = path.split(".")
            parameters.setdefault(section, {"parameters": {}})["parameters"][key] = dict(spec)
        expected = math.prod(len(p["values"]) for p in space.values()) if method == "grid" \
            else None
        sweeps.append({
            "id": sweep, "display_name": sweep.removeprefix("sw-").replace("-", " "),
            "method": method, "state": "RUNNING" if sweep in running else "FINISHED",
            "config": {"method": method, "program": "train.py",
                       "metric": {"name": "eval/loss", "goal": "minimize"},
                       "parameters": parameters},
            "created_at": created - timedelta(minutes=2), "run_count_expected": expected,
            "description": f"{method} search over {', '.join(space) or 'nothing'}",
        })
    return sweeps


def synthetic_artifacts(records: Iterable[RunRecord], seed: int = 0) -> list[ArtifactRecord]:
    """Return artifact versions for ``records``: a dataset most runs use, and model versions.

    ``train-data`` (type ``dataset``) has three versions; each run uses (``used_by``) the
    version current at its creation, except ~15% of runs that use none. ``classifier``
    (type ``model``) has one version logged by each of up to 8 finished runs, aliased
    ``best`` (lowest eval loss) and ``latest``; ``eval`` runs use the newest model before them.
    """
    rng = Random(seed)
    runs = sorted(records, key=lambda r: as_utc(r.get("created_at", DEFAULT_START)))
    begin = as_utc(runs[0].get("created_at", DEFAULT_START)) if runs else DEFAULT_START
    end = as_utc(runs[-1].get("created_at", DEFAULT_START)) if runs else DEFAULT_START
    span = end - begin
    data_times = [begin - timedelta(days=1), begin + span / 3, begin + span * 2 / 3]
    datasets: list[ArtifactRecord] = []
    for k, created in enumerate(data_times):
        datasets.append({
            "name": "train-data", "type": "dataset", "version": k,
            "aliases": ["latest"] if k == 2 else [], "digest": f"{rng.getrandbits(128):032x}",
            "size": 170_000_000 + 1_000_000 * k, "description": f"CIFAR-style split, revision {k}",
            "metadata": {"source": {"uri": "s3://datasets/cifar10", "revision": k},
                         "split": {"train": 45_000, "val": 5_000}, "format": "parquet"},
            "created_at": created, "logged_by": None, "used_by": [],
        })
    finished = [r for r in runs if r.get("state") == "finished"]
    loggers = sorted(rng.sample(finished, min(8, len(finished))), key=runs.index)
    models: list[ArtifactRecord] = []
    for k, run in enumerate(loggers):
        summary = run.get("summary", {})
        score = summary.get("eval/loss", summary.get("loss", math.inf))
        models.append({
            "name": "classifier", "type": "model", "version": k, "aliases": [],
            "digest": f"{rng.getrandbits(128):032x}", "size": rng.randrange(10**7, 10**8),
            "description": None if k % 2 else f"checkpoint of {run['id']}",
            "metadata": {"eval": {"loss": score, "acc": summary.get("eval/acc")},
                         "config": {"arch": run.get("config", {}).get("model", {}).get("arch"),
                                    "lr": run.get("config", {}).get("optimizer", {}).get("lr")}},
            "created_at": as_utc(run.get("heartbeat_at", DEFAULT_START)),
            "logged_by": run["id"], "used_by": [],
            "files": {"model_card.md": f"# classifier v{k}\n\nLogged by run {run['id']}.\n"},
        })
    if models:
        finite = [m for m in models if math.isfinite(m["metadata"]["eval"]["loss"] or math.inf)]
        best = min(finite or models, key=lambda m: m["metadata"]["eval"]["loss"] or math.inf)
        best["aliases"].append("best")
        models[-1]["aliases"].append("latest")
    for run in runs:
        created = as_utc(run.get("created_at", DEFAULT_START))
        if rng.random() < 0.85:
            current = [d for d in datasets if as_utc(d["created_at"]) <= created]
            current[-1]["used_by"].append(run["id"])
        before = [m for m in models if as_utc(m["created_at"]) <= created]
        if run.get("job_type") == "eval" and before:
            before[-1]["used_by"].append(run["id"])
    return datasets + models


def synthetic_reports(seed: int = 0, *, start: datetime = DEFAULT_START) -> list[ReportRecord]:
    """Return three report records with W&B-like ``spec`` dicts (blocks and panel grids)."""
    rng = Random(seed)
    start = as_utc(start)
    titles = (("LR sweep analysis", "sw-lr-grid", "config.optimizer.lr"),
              ("Architecture comparison", "sw-arch-random", "config.model.arch"),
              ("Crashed runs triage", None, "state"))
    reports: list[ReportRecord] = []
    for k, (title, sweep, group_by) in enumerate(titles):
        filters: dict[str, Any] = {"sweep": sweep} if sweep else {"state": {"$in": ["crashed",
                                                                                  "failed"]}}
        created = start + timedelta(days=7 * (k + 1), seconds=rng.randrange(86400))
        reports.append({
            "id": f"VmlldzoxN{rng.randrange(10**6):06d}",
            "name": f"{rng.getrandbits(48):012x}", "display_name": title,
            "description": f"{title} (synthetic)", "user": USERS[k % len(USERS)],
            "spec": {
                "version": 5, "width": "readable", "authors": [USERS[k % len(USERS)]],
                "blocks": [
                    {"type": "heading", "level": 1, "children": [{"text": title}]},
                    {"type": "paragraph", "children": [{"text": "Loss by " + group_by + "."}]},
                    {"type": "panel-grid", "metadata": {
                        "runSets": [{"name": "runs", "filters": filters, "enabled": True}],
                        "panels": [{"viewType": "Run History Line Plot",
                                    "config": {"metrics": ["loss", "eval/loss"],
                                               "xAxis": "_step", "groupBy": group_by}}],
                    }},
                ],
            },
            "created_at": created,
            "updated_at": created + timedelta(hours=rng.randrange(1, 72)),
        })
    return reports
