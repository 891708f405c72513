"""Deterministic synthetic W&B projects: run seed records (sweeps, artifacts, reports re-exported).

Sweep, artifact and report records are generated in
:mod:`wandb_frames.testing.synthetic_catalog` and re-exported here, so
``from wandb_frames.testing.synthetic import synthetic_sweeps`` keeps working.

Everything is drawn from ``random.Random(seed)`` and one ``numpy`` generator seeded
with the same seed, so the same arguments always give identical records; nothing
reads the clock. Records hold plain Python values (``dict``/``list``/``float``/``int``/
``str``/``bool``/``None`` and tz-aware UTC ``datetime``), ready for the local server.

The default project is a hyper-parameter study: most runs belong to one of three
sweeps (``sw-lr-grid``, ``sw-arch-random``, ``sw-bayes-opt``), the rest are ad-hoc
runs with groups and tags. States are mostly ``finished``; a few of the newest runs
are ``running``. Loss curves decay faster for learning rates near 3e-3, so plots
coloured by ``config.optimizer.lr`` look right.

Awkward data, on purpose (the frame code must survive all of it):

- keys with ``/`` (summary/history ``eval/loss``, ``train/acc``; config ``eval/interval``);
- a literal ``.`` in a key (config ``lr.warmup``; no collision by default);
- spaces and unicode (summary ``val accuracy``, ``précision``, ``损失``);
- NaN and ±Infinity (diverged failed runs: ``loss`` NaN, ``grad_norm`` and ``perplexity``
  +inf; ``min_margin`` -inf in a few runs; history ``grad_norm`` occasionally NaN);
- ``_type`` dicts in summaries: ``examples`` (image-file), ``weights`` (histogram),
  ``predictions`` (table-file), each in only some runs;
- sparse keys: ``test/*`` only in finished runs, ``early_stop`` only in killed runs,
  eval metrics only every 10th history step, ``optimizer.momentum`` only for SGD;
- mixed kinds: config ``warmup_steps`` is an int in most runs and ``"auto"`` in a few;
- booleans, ``None`` values (``grad_clip``, ``model.norm``, ``best_epoch``, ``notes``), lists
  (``optimizer.betas``, ``callbacks``, ``confusion_diag``), nested summary dicts (``timing``);
- ``awkward=True`` adds a separator collision: a literal ``"a.b"`` key beside a nested
  ``{"a": {"b": ...}}`` in both config and summary.

Large histories (e.g. 200 runs x 10,000 steps x 20 metrics) should be consumed lazily with
:func:`iter_synthetic_runs`: each run's rows are built with numpy and converted to plain
values only when that run is produced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import product
from random import Random
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wandb_frames.errors import ConfigurationError
from wandb_frames.testing.records import RunRecord
from wandb_frames.testing.synthetic_catalog import (
    DEFAULT_START,
    SWEEP_IDS,
    SWEEP_SPACES,
    USERS,
    as_utc,
    synthetic_artifacts,
    synthetic_reports,
    synthetic_sweeps,
)

__all__ = [
    "DEFAULT_START",
    "HISTORY_METRICS",
    "SWEEP_IDS",
    "iter_synthetic_runs",
    "synthetic_artifacts",
    "synthetic_project",
    "synthetic_reports",
    "synthetic_sweeps",
]

#: History metrics in the order ``n_history_metrics`` takes them; beyond these, ``aux/metric_NN``.
HISTORY_METRICS = (
    "loss", "acc", "lr", "eval/loss", "eval/acc", "grad_norm", "epoch", "samples_per_sec",
)
EVAL_EVERY = 10
_SPARSE = frozenset({"eval/loss", "eval/acc"})
_BASE_CONFIG_LEAVES = 31
_BASE_SUMMARY_KEYS = 36

_HOSTS = tuple(f"gpu-node-{i:02d}" for i in range(1, 7))
_TAGS = ("baseline", "ablation", "debug", "prod", "v2", "best", "needs-review")
_GROUPS = ("baseline", "ablation-dropout", "debug", None)
_ADJECTIVES = ("eager", "quiet", "brisk", "lunar", "amber", "vivid", "misty", "stoic")
_NOUNS = ("fox", "river", "pine", "comet", "sparrow", "dune", "harbor", "meadow")
_NOTES = ("retry after OOM", "baseline for the paper", "lr too high?\nsee thread", "réglage fin")
_STATES = ("finished", "crashed", "failed", "killed", "preempted")
_STATE_WEIGHTS = (80, 7, 6, 5, 2)
_ARCHS = {"resnet18": 11.7, "resnet50": 25.6, "vit-s": 22.0, "mlp": 1.2}
_DATASETS = ("cifar10", "cifar100", "imagenet-1k")
_SYSTEM_KEYS = (
    "system.cpu", "system.memory", "system.disk", "system.network.sent",
    "system.gpu.0.gpu", "system.gpu.0.memoryAllocated", "system.gpu.0.temp",
)

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _Settings:
    n_runs: int
    history_steps: int
    metrics: tuple[str, ...]
    extra_config: tuple[str, ...]
    extra_summary: tuple[str, ...]
    sweep_fraction: float
    awkward: bool


@dataclass(frozen=True)
class _Curve:
    rate: float  # decay speed of the loss curve, highest for lr near 3e-3
    init: float
    floor: float
    acc_max: float
    lr: float
    epochs: int
    throughput: float
    diverged: bool


def iter_synthetic_runs(
    n_runs: int = 500,
    seed: int = 0,
    *,
    history_steps: int = 0,
    n_history_metrics: int = 8,
    n_config_keys: int | None = None,
    n_summary_keys: int | None = None,
    start: datetime = DEFAULT_START,
    sweep_fraction: float = 0.6,
    awkward: bool = False,
) -> Iterator[RunRecord]:
    """Yield ``n_runs`` synthetic run records one at a time (see the module docstring).

    Args:
        n_runs: Number of runs.
        seed: Seed; the same arguments always yield identical records.
        history_steps: Steps per full-length run; 0 means no ``history``/``system_history``.
        n_history_metrics: How many metrics each history row has (first from
            :data:`HISTORY_METRICS`, then ``aux/metric_NN``).
        n_config_keys: Approximate total config leaves; extra ``extra_cfg_NNN`` keys fill
            the gap above the ~31 built-in leaves. ``None`` adds none.
        n_summary_keys: Approximate total summary keys; extra ``metric_NNN`` keys fill the
            gap above the ~40 built-in keys. ``None`` adds none.
        start: Creation time of the first run; naive values are taken as UTC.
        sweep_fraction: Share of runs that belong to a sweep, in ``[0, 1]``.
        awkward: Add a ``"a.b"`` / ``{"a": {"b": ...}}`` collision to config and summary.

    Yields:
        Run records in creation order (``created_at`` non-decreasing).

    Raises:
        ConfigurationError: If a count is negative or ``sweep_fraction`` is outside [0, 1].
    """
    for name, value in (("n_runs", n_runs), ("history_steps", history_steps),
                        ("n_history_metrics", n_history_metrics)):
        if value < 0:
            raise ConfigurationError(f"{name} must be >= 0, got {value}")
    if not 0.0 <= sweep_fraction <= 1.0:
        raise ConfigurationError(f"sweep_fraction must be in [0, 1], got {sweep_fraction}")
    metrics = HISTORY_METRICS[:n_history_metrics] + tuple(
        f"aux/metric_{i:02d}" for i in range(len(HISTORY_METRICS), n_history_metrics)
    )
    extra_cfg = max(0, (n_config_keys or 0) - _BASE_CONFIG_LEAVES)
    extra_sum = max(0, (n_summary_keys or 0) - _BASE_SUMMARY_KEYS - len(metrics) + 8)
    settings = _Settings(
        n_runs, history_steps, metrics,
        tuple(f"extra_cfg_{i:03d}" for i in range(extra_cfg)),
        tuple(f"metric_{i:03d}" for i in range(extra_sum)),
        sweep_fraction, awkward,
    )
    return _generate(settings, seed, as_utc(start))


def synthetic_project(
    n_runs: int = 500,
    seed: int = 0,
    *,
    history_steps: int = 0,
    n_history_metrics: int = 8,
    n_config_keys: int | None = None,
    n_summary_keys: int | None = None,
    start: datetime = DEFAULT_START,
    sweep_fraction: float = 0.6,
    awkward: bool = False,
) -> list[RunRecord]:
    """Return the runs of :func:`iter_synthetic_runs` (same arguments) as a list."""
    return list(iter_synthetic_runs(
        n_runs, seed, history_steps=history_steps, n_history_metrics=n_history_metrics,
        n_config_keys=n_config_keys, n_summary_keys=n_summary_keys, start=start,
        sweep_fraction=sweep_fraction, awkward=awkward,
    ))


def _generate(s: _Settings, seed: int, start: datetime) -> Iterator[RunRecord]:
    rng = Random(seed)
    nrng = np.random.default_rng(seed)
    commits = [f"{rng.getrandbits(160):040x}" for _ in range(12)]
    mean_gap = max(5.0, min(1800.0, 90 * 86400 / max(s.n_runs, 1)))
    seen: set[str] = set()
    grid_counters = dict.fromkeys(SWEEP_SPACES, 0)
    created = start
    for i in range(s.n_runs):
        if i:
            gap = 0 if rng.random() < 0.03 else round(rng.expovariate(1.0 / mean_gap))
            created += timedelta(seconds=gap)
        run_id = "".join(rng.choices(_ALPHABET, k=8))
        while run_id in seen:
            run_id = "".join(rng.choices(_ALPHABET, k=8))
        seen.add(run_id)
        sweep = None
        if rng.random() < s.sweep_fraction:
            sweep = rng.choices(SWEEP_IDS, [w for _, _, w in SWEEP_SPACES.values()])[0]
        newest = i >= s.n_runs - max(1, s.n_runs // 50)
        state = "running" if newest and rng.random() < 0.5 else rng.choices(
            _STATES, _STATE_WEIGHTS)[0]
        config = _config(rng, s, sweep, grid_counters)
        record = _run(rng, nrng, s, i, run_id, created, state, sweep, config)
        record["commit"] = commits[i * len(commits) // max(s.n_runs, 1)]
        yield record


def _config(
    rng: Random, s: _Settings, sweep: str | None, grid_counters: dict[str, int]
) -> dict[str, Any]:
    opt = rng.choices(("adamw", "adam", "sgd"), (5, 3, 2))[0]
    config: dict[str, Any] = {
        "optimizer": {
            "name": opt, "lr": 10 ** rng.uniform(-4.5, -1.5), "betas": [0.9, 0.999],
            "weight_decay": rng.choice((0.0, 1e-4, 0.01, 0.05)), "eps": 1e-8,
        },
        "model": {
            "arch": rng.choice(tuple(_ARCHS)), "layers": rng.choice((2, 4, 8, 12)),
            "hidden": rng.choice((128, 256, 512, 1024)), "dropout": round(rng.uniform(0, 0.5), 3),
            "activation": rng.choice(("relu", "gelu")),
            "norm": rng.choice(("batch", "layer", None)),
        },
        "data": {
            "dataset": rng.choices(_DATASETS, (6, 3, 1))[0],
            "batch_size": rng.choice((32, 64, 128, 256)), "augment": rng.random() < 0.6,
            "num_workers": rng.choice((4, 8)), "shuffle": True,
            "split": {"train": 0.9, "val": 0.1},
        },
        "seed": rng.randrange(10_000), "epochs": rng.choice((10, 20, 50, 100)),
        "lr.warmup": rng.choice((0.0, 0.05, 0.1)), "lr_schedule": rng.choice(("cosine", "step")),
        "warmup_steps": "auto" if rng.random() < 0.05 else rng.choice((0, 500, 1000)),
        "precision": rng.choice(("fp32", "bf16", "fp16")),
        "grad_clip": rng.choice((None, 1.0, 5.0)), "device": "cuda",
        "compile": rng.random() < 0.3, "log_every": 10,
        "callbacks": rng.sample(["checkpoint", "early_stop", "lr_monitor"], rng.randint(0, 3)),
        "eval/interval": EVAL_EVERY, "max_steps": None,
    }
    if opt == "sgd":
        config["optimizer"]["momentum"] = 0.9
    if sweep is not None:
        _, space, _ = SWEEP_SPACES[sweep]
        if SWEEP_SPACES[sweep][0] == "grid":
            grid = list(product(*(p["values"] for p in space.values())))
            chosen = dict(zip(space, grid[grid_counters[sweep] % len(grid)], strict=True))
            grid_counters[sweep] += 1
        else:
            chosen = {path: _sample(rng, p) for path, p in space.items()}
        for path, value in chosen.items():
            section, key = path.split(".")
            config[section][key] = value
    for j, key in enumerate(s.extra_config):
        u, kind = rng.random(), j % 5  # one draw per key; the kind is fixed per key
        config[key] = (
            int(u * 1000) if kind == 0 else u if kind == 1 else "abc"[int(u * 3)] if kind == 2
            else u < 0.5 if kind == 3 else None if u < 0.1 else round(u * 4 - 2, 6)
        )
    if s.awkward:
        config["a.b"], config["a"] = 1, {"b": 2}
    return config


def _sample(rng: Random, spec: dict[str, Any]) -> Any:
    if "values" in spec:
        return rng.choice(spec["values"])
    low, high = spec["min"], spec["max"]
    if spec["distribution"] == "log_uniform_values":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def _run(
    rng: Random, nrng: np.random.Generator, s: _Settings, i: int, run_id: str,
    created: datetime, state: str, sweep: str | None, config: dict[str, Any],
) -> RunRecord:
    lr, epochs, model = config["optimizer"]["lr"], config["epochs"], config["model"]
    fraction = 1.0 if state == "finished" else rng.uniform(0.3, 0.9) if state == "running" \
        else rng.uniform(0.05, 0.7)
    full_runtime = epochs * rng.uniform(20.0, 200.0)
    runtime = round(full_runtime * fraction, 3)
    curve = _Curve(
        rate=0.3 + 3.0 * math.exp(-((math.log10(lr) + 2.5) ** 2)),
        init=2.3 + rng.gauss(0, 0.05), floor=0.05 + 0.4 * model["dropout"] + 0.2 / model["layers"],
        acc_max=rng.uniform(0.85, 0.98), lr=lr, epochs=epochs,
        throughput=rng.uniform(300, 3000), diverged=state == "failed" and rng.random() < 0.5,
    )
    user, host = rng.choice(USERS), rng.choice(_HOSTS)
    ts0 = created.timestamp()
    steps = s.history_steps if s.history_steps else epochs * 100
    n_steps = max(1, round(steps * fraction)) if s.history_steps else 1
    final_step = max(0, round(steps * fraction) - 1)
    step = np.arange(n_steps) if s.history_steps else np.array([final_step])
    progress = (step + 1) / steps
    arrays = _metric_arrays(nrng, progress, s.metrics, curve)
    run_time = np.round(progress * full_runtime, 3)
    if s.history_steps:
        run_time[-1] = runtime
    record: RunRecord = {
        "id": run_id,
        "display_name": f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{i + 1}",
        "state": state, "created_at": created,
        "heartbeat_at": created + timedelta(seconds=math.ceil(runtime)),
        "config": config, "sweep": sweep, "user": user, "host": host,
        "tags": [] if rng.random() < 0.3 else sorted(rng.sample(_TAGS, rng.randint(1, 3))),
        "group": None if sweep else rng.choice(_GROUPS),
        "job_type": "train" if sweep or rng.random() < 0.8 else "eval",
        "notes": rng.choice(_NOTES) if rng.random() < 0.3 else None,
    }
    last: dict[str, Any] = {}
    if s.history_steps:
        record["history"] = _rows(step, run_time, ts0, arrays, s.metrics, last)
    else:
        last.update((m, arrays[m].tolist()[-1]) for m in s.metrics)
    last.update(_step=int(step[-1]), _runtime=runtime, _timestamp=round(ts0 + runtime, 3))
    system_times = np.arange(0.0, runtime + 1e-9, max(10.0, runtime / 500))
    system = _system_arrays(nrng, len(system_times) if s.history_steps else 1)
    if s.history_steps:
        record["system_history"] = _rows(None, system_times, ts0, system, _SYSTEM_KEYS, {})
    record["system_metrics"] = {k[7:]: float(v[-1]) for k, v in system.items()}
    record["summary"] = _summary(rng, s, state, curve, arrays, last)
    record["files"] = _files(rng, record, user, host, created, config)
    return record


def _metric_arrays(
    nrng: np.random.Generator, p: FloatArray, metrics: tuple[str, ...], c: _Curve
) -> dict[str, FloatArray]:
    n = len(p)
    decay = np.exp(-c.rate * 5.0 * p)
    loss = c.floor + (c.init - c.floor) * decay * (1 + 0.03 * nrng.standard_normal(n))
    if c.diverged:
        loss[int(n * 0.8):] = math.nan
    acc = np.clip(c.acc_max * (1 - decay) + 0.01 * nrng.standard_normal(n), 0.0, 1.0)
    out: dict[str, FloatArray] = {}
    for m in metrics:
        if m == "loss":
            out[m] = loss
        elif m == "acc":
            out[m] = acc
        elif m == "lr":
            out[m] = c.lr * (0.01 + 0.495 * (1 + np.cos(np.pi * np.minimum(p, 1.0))))
        elif m == "eval/loss":
            out[m] = loss * 1.08 + 0.01 * np.abs(nrng.standard_normal(n))
        elif m == "eval/acc":
            out[m] = np.clip(acc - 0.02 + 0.01 * nrng.standard_normal(n), 0.0, 1.0)
        elif m == "grad_norm":
            g = np.abs(nrng.normal(1.0, 0.3, n)) * (1 + 2 * decay)
            g[nrng.random(n) < 0.002] = math.nan
            if c.diverged:
                g[int(n * 0.8):] = math.inf
            out[m] = g
        elif m == "epoch":
            out[m] = np.minimum(np.floor(p * c.epochs), c.epochs - 1).astype(np.int64)
        elif m == "samples_per_sec":
            out[m] = c.throughput * (1 + 0.05 * nrng.standard_normal(n))
        else:
            out[m] = 1.0 + np.cumsum(0.01 * nrng.standard_normal(n))
    return out


def _system_arrays(nrng: np.random.Generator, n: int) -> dict[str, FloatArray]:
    base = nrng.uniform((10, 20, 30, 0, 60, 30, 55), (90, 80, 60, 1e6, 100, 95, 80))[:, None]
    noise = 0.05 * base * nrng.standard_normal((len(_SYSTEM_KEYS), n))
    values = np.clip(base + noise, 0, 100)
    values[3] = base[3] + np.cumsum(np.abs(noise[3]))  # network.sent only grows
    return dict(zip(_SYSTEM_KEYS, np.round(values, 2), strict=True))


def _rows(
    step: NDArray[np.int64] | None, run_time: FloatArray, ts0: float,
    arrays: dict[str, Any], names: Iterable[str], last: dict[str, Any],
) -> list[dict[str, Any]]:
    """Turn column arrays into row dicts (sparse names only every EVAL_EVERY rows)."""
    dense = [m for m in names if m not in _SPARSE]
    cols = [arrays[m].tolist() for m in dense]
    head = ["_runtime", "_timestamp"]
    cols[:0] = [run_time.tolist(), np.round(run_time + ts0, 3).tolist()]
    if step is not None:
        head.insert(0, "_step")
        cols.insert(0, step.tolist())
    keys = head + dense
    rows = [dict(zip(keys, values)) for values in zip(*cols)]
    last_eval = (len(rows) - 1) // EVAL_EVERY * EVAL_EVERY
    for m in names:
        if m in _SPARSE:
            col = arrays[m].tolist()
            for j in range(0, len(rows), EVAL_EVERY):
                rows[j][m] = col[j]
            last[m] = col[last_eval]
    last.update((m, col[-1]) for m, col in zip(dense, cols[len(head):], strict=True))
    return rows


def _summary(
    rng: Random, s: _Settings, state: str, c: _Curve, arrays: dict[str, FloatArray],
    last: dict[str, Any],
) -> dict[str, Any]:
    loss = float(arrays["loss"][-1]) if "loss" in arrays else c.floor
    best_eval = float(np.nanmin(arrays["eval/loss"])) if "eval/loss" in arrays and not \
        np.isnan(arrays["eval/loss"]).all() else loss * 0.98
    val_acc = min(1.0, max(0.0, c.acc_max * (1 - math.exp(-c.rate * 5)) - 0.02))
    summary: dict[str, Any] = {m: last[m] for m in s.metrics}
    summary.update({
        "train/loss": loss * 0.95, "train/acc": min(1.0, val_acc + 0.03),
        "val accuracy": val_acc, "précision": round(val_acc * 0.97, 4), "损失": loss,
        "best/eval_loss": best_eval,
        "best_step": max(0, last["_step"] - rng.randrange(0, 50) // 10 * 10),
        "converged": state == "finished" and c.rate > 1.0,
        "best_epoch": None if state != "finished" else rng.randrange(c.epochs),
        "confusion_diag": [round(rng.uniform(0.7, 1.0), 3) for _ in range(4)],
        "timing": {"data_s": round(rng.uniform(0.01, 0.2), 4), "step_s": rng.uniform(0.05, 1)},
        "status": "ok" if state == "finished" else state,
        "params_m": _ARCHS[rng.choice(tuple(_ARCHS))], "gflops": rng.uniform(1, 50),
        "perplexity": math.inf if c.diverged else math.exp(loss),
        "min_margin": -math.inf if rng.random() < 0.03 else rng.uniform(-1, 1),
        "gpu_mem_gb": round(rng.uniform(2, 40), 2), "epoch_time_s": rng.uniform(20, 200),
        "recall": val_acc * rng.uniform(0.95, 1.0), "f1": val_acc * rng.uniform(0.93, 1.0),
        "checkpoint": f"checkpoints/epoch_{c.epochs - 1}.pt" if state == "finished" else None,
        "eval/samples": 10_000, "num_parameters": rng.randrange(1_000_000, 90_000_000),
    })
    if state == "finished":
        summary["test/acc"], summary["test/loss"] = val_acc - 0.01, loss * 1.1
    if state == "killed":
        summary["early_stop"] = True
    if rng.random() < 0.4:
        sha = f"{rng.getrandbits(256):064x}"
        summary["examples"] = {
            "_type": "image-file", "path": f"media/images/examples_{last['_step']}_{sha[:20]}.png",
            "sha256": sha, "size": rng.randrange(800, 9000), "width": 64, "height": 64,
            "format": "png",
        }
    if rng.random() < 0.3:
        summary["weights"] = {
            "_type": "histogram", "values": [rng.randrange(200) for _ in range(16)],
            "bins": [round(-1 + k / 8, 3) for k in range(17)],
        }
    if state == "finished" and rng.random() < 0.3:
        sha = f"{rng.getrandbits(256):064x}"
        summary["predictions"] = {
            "_type": "table-file", "path": f"media/table/predictions_{sha[:20]}.table.json",
            "sha256": sha, "size": rng.randrange(10_000, 90_000), "ncols": 4, "nrows": 100,
        }
    for j, key in enumerate(s.extra_summary):
        if j % 10 != 9 or rng.random() < 0.5:
            summary[key] = rng.random()
    if s.awkward:
        summary["a.b"], summary["a"] = 0.5, {"b": 0.25}
    summary.update(_step=last["_step"], _runtime=last["_runtime"],
                   _timestamp=last["_timestamp"], _wandb={"runtime": int(last["_runtime"])})
    return summary


def _files(
    rng: Random, record: RunRecord, user: str, host: str, created: datetime,
    config: dict[str, Any],
) -> dict[str, str | bytes]:
    gpu_count = rng.choice((1, 1, 2, 8))
    metadata = {
        "os": "Linux-6.8.0-x86_64-with-glibc2.39", "python": "CPython 3.11.9", "host": host,
        "username": user, "program": "train.py", "gpu": "NVIDIA A100-SXM4-80GB",
        "gpu_count": gpu_count, "cpu_count": rng.choice((16, 32, 64)),
        "startedAt": created.isoformat().replace("+00:00", "Z"),
        "args": [f"--lr={config['optimizer']['lr']:.3g}", f"--epochs={config['epochs']}"],
    }
    log = (f"wandb: Run {record['id']} started on {host}\n"
           f"epoch 0: loss {record['summary'].get('loss', 'n/a')}\n"
           f"wandb: run state {record.get('state')}\n")
    return {"wandb-metadata.json": json.dumps(metadata), "output.log": log}
