"""Generate real offline runs with the official ``wandb`` SDK, once per session, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from offline_support import CRASH_STEPS, GENERATE, Generated  # noqa: E402

@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("offline-runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_ERROR_REPORTING="false",
               WANDB_DISABLE_GIT="true", WANDB_DIR=str(root), WANDB_CACHE_DIR=str(root / "cache"),
               WANDB_CONFIG_DIR=str(root / "config"), WANDB_DATA_DIR=str(root / "data"))
    procs = [
        subprocess.Popen([sys.executable, "-c", GENERATE, "good", str(HERE), str(root / "good.json")],
                         env=env, cwd=root),
        subprocess.Popen([sys.executable, "-c", GENERATE, "crash", str(HERE), str(root / "crash.json"),
                          str(CRASH_STEPS)], env=env, cwd=root),
    ]
    for proc in procs:
        proc.wait(timeout=120)
    assert procs[0].returncode == 0
    assert procs[1].returncode == 1
    ids = json.loads((root / "good.json").read_text()) | json.loads((root / "crash.json").read_text())
    return Generated(root / "wandb", ids)
