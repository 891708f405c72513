"""Smoke test: the runs-listing benchmark still runs end to end and prints its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = ("floor", "floor+inner", "floor(gzip)", "wandb_frames", "wandb_frames(sequential)",
              "official lazy=False", "wandb_frames@recipe", "official recipe")


def test_runs_listing_benchmark_prints_its_table() -> None:
    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "runs_listing.py"), "--runs", "50", "--recipe-runs", "10",
         "--repeat", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("contender"))
    table = {line[:26].strip(): line[26:].split() for line in lines[start + 1 : start + 1 + len(CONTENDERS)]}
    assert list(table) == list(CONTENDERS), out.stdout
    for name, fields in table.items():
        runs, wall, peak = int(fields[0]), float(fields[2]), float(fields[5])
        assert runs == (10 if "recipe" in name else 50), out.stdout
        assert wall > 0 and peak > 0
    assert "(target >= 5x)" in out.stdout and "(target >= 100x)" in out.stdout


def test_network_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "network.py"), "--quick", "--json", str(tmp_path / "r.json"),
         "--plot", str(tmp_path / "r.png")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "official/ours" in out.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    assert [(r["latency_ms"], r["contender"]) for r in results] == [
        (latency, name) for latency in (0.0, 20.0) for name in
        ("table: wandb_frames", "table: wandb_frames tuned", "table: official lazy=False",
         "histories: wandb_frames", "histories: wandb_frames tuned", "histories: official",
         "sampled histories: wandb_frames")]
    for r in results:
        assert r["wall_s"] > 0 and r["requests"] > 0 and r["rows"] > 0, r
        if r["latency_ms"] == 20.0:  # every request paid the latency: no run can beat one round trip
            assert r["wall_s"] >= 0.02, r
    assert {r["rows"] for r in results if r["contender"].startswith("table")} == {60}
    assert (tmp_path / "r.png").stat().st_size > 10_000  # the time-vs-latency plot was drawn
    histories = {(r["latency_ms"], r["rows"]) for r in results if r["contender"].startswith("histories: wandb")}
    assert len(histories) == 2  # tuned or not, the same long table at each latency
    # wandb's Runs.histories() and ours answer the same sampled rows
    sampled = {r["latency_ms"]: (r["rows"], r["columns"]) for r in results if r["contender"].startswith("sampled")}
    official = {r["latency_ms"]: (r["rows"], r["columns"]) for r in results if r["contender"] == "histories: official"}
    assert sampled == official
