"""``make demo`` end to end (small): the three files exist and open."""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from wandb_frames.demo import main
from wandb_frames.errors import LossyConversionWarning


def test_demo_writes_runs_history_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)  # the demo prints it as a note
        assert main(["--runs", "60", "--steps", "50", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out

    runs = pq.read_table(tmp_path / "runs.parquet")
    assert 0 < runs.num_rows < 60 and "config.optimizer.lr" in runs.column_names
    assert set(runs.column("state").to_pylist()) == {"finished"}
    history = pq.read_table(tmp_path / "history.parquet")
    assert set(history.column("metric").to_pylist()) == {"loss", "eval/loss"}
    assert set(history.column("run_id").to_pylist()) == set(runs.column("id").to_pylist())
    assert "config.optimizer.lr" in history.column_names
    png = (tmp_path / "loss_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000

    for name in ("runs.parquet", "history.parquet", "loss_curves.png"):
        assert str((tmp_path / name).resolve()) in printed
