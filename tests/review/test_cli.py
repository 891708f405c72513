"""Review: the CLI validates every argument before the first request."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandb_frames.cli import main
from wandb_frames.testing import LocalServer

from .conftest import ENTITY, PROJECT

PATH = f"{ENTITY}/{PROJECT}"


@pytest.fixture
def env(server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalServer:
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    server.clear_requests()
    return server


@pytest.mark.parametrize("argv", [
    ["runs", PATH, "--no-progress", "-o", "out.xlsx"],
    ["history", PATH, "--no-progress", "-o", "out.txt"],
    ["history", PATH, "--no-progress", "--samples", "1", "-o", "out.parquet"],
])
def test_bad_arguments_fail_before_any_request(
    env: LocalServer, capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("wandb-frames: ConfigurationError")
    assert env.requests == []
    assert not list(tmp_path.glob("out.*"))


def test_good_output_still_written(env: LocalServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["history", PATH, "--no-progress", "--limit", "2", "--samples", "2", "-o", "h.csv"]) == 0
    capsys.readouterr()
    assert (tmp_path / "h.csv").read_text().startswith('"run_id"')
