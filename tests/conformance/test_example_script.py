"""``examples/wandb_api_report.py`` gives the same output with ``wandb.Api`` and with ``wandb_frames.Api``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conformance_support import ENTITY, PROJECT

from wandb_frames.testing import LocalServer

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "wandb_api_report.py"
SWAP = ("import runpy, sys, wandb, wandb_frames; wandb.Api = wandb_frames.Api; "
        "sys.argv = [sys.argv[1], sys.argv[2]]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _run(server: LocalServer, swap: bool, cwd: Path) -> str:
    env = dict(os.environ, WANDB_BASE_URL=server.url, WANDB_API_KEY=server.api_key)
    args = [sys.executable, "-c", SWAP, str(SCRIPT), f"{ENTITY}/{PROJECT}"] if swap \
        else [sys.executable, str(SCRIPT), f"{ENTITY}/{PROJECT}"]
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_script_runs_unchanged_with_both_clients(wandb_env: Path, server: LocalServer, tmp_path: Path) -> None:
    official = _run(server, swap=False, cwd=tmp_path)
    ours = _run(server, swap=True, cwd=tmp_path)
    for section in ("finished runs:", "first:", "sampled:", "history frame:", "scanned:", "system rows:",
                    "sweep:", "file:", "python:", "used:", "artifact files:", "project:", "report:"):
        assert section in official, section
    assert ours.splitlines() == official.splitlines()
