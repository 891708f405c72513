"""Conformance: our histories equal, value by value, what wandb 0.31.0's ``scan_history`` returns."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from history_support import ENTITY, PROJECT, RequestsExecutor

from wandb_frames.history import fetch_run_history, scan_history_rows
from wandb_frames.testing import LocalServer

pytestmark = pytest.mark.conformance

# Runs without repeated steps: there wandb's row list and our last-write-wins frame must agree
# exactly. "resumed" is checked against the last write of each step below.
RUNS = ["plain", "running", "gaps", "empty"]


@pytest.fixture(scope="module")
def official(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    wandb = pytest.importorskip("wandb")
    tmp = tmp_path_factory.mktemp("wandb")
    env = {"WANDB_ERROR_REPORTING": "false", "WANDB_CACHE_DIR": str(tmp / "cache"), "WANDB_DIR": str(tmp),
           "WANDB_CONFIG_DIR": str(tmp / "config"), "WANDB_SILENT": "true"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield wandb.Api(api_key=server.api_key, overrides={"base_url": server.url}, timeout=60)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float))


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _official_points(rows: list[dict[str, Any]]) -> dict[tuple[int, str], float]:
    """wandb rows → (step, metric) → value, last write wins (wandb-core sends 1.0 as 1)."""
    out: dict[tuple[int, str], float] = {}
    for row in rows:
        for k, v in row.items():
            if not k.startswith("_") and _numeric(v):
                out[(int(row["_step"]), k)] = float(v)
    return out


@pytest.mark.parametrize("run_id", [*RUNS, "resumed"])
def test_frame_equals_official_scan_history(run_id: str, official: Any, executor: RequestsExecutor) -> None:
    theirs = list(official.run(f"{ENTITY}/{PROJECT}/{run_id}").scan_history())
    ours = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=run_id).to_pydict()
    mine = {(s, m): v for s, m, v in zip(ours["_step"], ours["metric"], ours["value"], strict=True)}
    want = _official_points(theirs)
    assert mine.keys() == want.keys()
    assert all(_same(mine[k], want[k]) for k in want), run_id
    if run_id != "resumed":
        assert len(mine) == sum(1 for r in theirs for k, v in r.items() if not k.startswith("_") and _numeric(v))


@pytest.mark.parametrize("run_id", RUNS)
def test_scan_rows_equal_official_rows(run_id: str, official: Any, executor: RequestsExecutor) -> None:
    theirs = list(official.run(f"{ENTITY}/{PROJECT}/{run_id}").scan_history())
    ours = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=run_id))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        # Live-tail rows are sparse on our side; parquet rows carry every column on both.
        a = {k: v for k, v in a.items() if v is not None}
        b = {k: v for k, v in b.items() if v is not None}
        assert a.keys() == b.keys()
        for k in a:
            if _numeric(a[k]) and _numeric(b[k]):
                assert _same(float(a[k]), float(b[k])), (run_id, k)
            elif isinstance(a[k], dict) and isinstance(b[k], str):
                # The local server's parquet file stores media dicts as JSON text.
                assert a[k] == json.loads(b[k]), (run_id, k)
            else:
                assert a[k] == b[k], (run_id, k)


def test_scan_with_keys_equals_official(official: Any, executor: RequestsExecutor) -> None:
    # Download the parquet file first: with keys, wandb-core reads it with HTTP Range requests,
    # which the local server does not answer ("server ignored range request").
    for run_id in ("plain", "resumed"):
        list(official.run(f"{ENTITY}/{PROJECT}/{run_id}").scan_history())
    for run_id, keys in (("plain", ["loss", "eval/loss"]), ("resumed", ["only_first"])):
        theirs = list(official.run(f"{ENTITY}/{PROJECT}/{run_id}").scan_history(keys=keys))
        ours = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=run_id, keys=keys))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert a.keys() == b.keys()
            assert all(
                (a[k] is None and b[k] is None) or _same(float(a[k]), float(b[k])) for k in a
            ), (run_id, a, b)
