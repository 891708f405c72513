"""``wandb-frames serve ./wandb``: a folder of offline runs served over HTTP, read back by the Api."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from offline_support import PROJECT, Generated

import wandb_frames as wf
from wandb_frames.errors import CorruptRecordWarning, LossyConversionWarning


def _read_line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise AssertionError(f"the server exited before printing {prefix!r}: {proc.stderr and proc.stderr.read()}")


def test_serve_folder_then_query_it(generated: Generated) -> None:
    env = {**os.environ, "WANDB_FRAMES_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.cli", "serve", str(generated.wandb_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        url = _read_line(proc, "URL ")
        key = _read_line(proc, "KEY ")
        api = wf.Api(api_key=key, overrides={"base_url": url}, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LossyConversionWarning)
            served = api.runs(f"offline/{PROJECT}").to_pandas().set_index("id")
            warnings.simplefilter("ignore", CorruptRecordWarning)
            local = wf.local_runs(generated.wandb_dir, project=PROJECT).to_pandas().set_index("id")
        assert sorted(served.index) == sorted(local.index)
        assert len(served) == 3
        for run_id in local.index:
            assert served.loc[run_id, "state"] == local.loc[run_id, "state"]
            assert served.loc[run_id, "config.lr"] == pytest.approx(local.loc[run_id, "config.lr"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
