"""No file the client writes holds the key: the runs and history caches (in the default
directory under ``HOME`` and in an explicit one), parquet exports (single and partitioned, with
provenance), histories, downloaded run files and the CLI's outputs. Every byte is searched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from leak_support import ENTITY, PROJECT, leaks_in, netrc_api

from wandb_frames.cli import main
from wandb_frames.export import read_provenance
from wandb_frames.testing import LocalServer


def scan(root: Path, *, skip: tuple[Path, ...] = ()) -> tuple[int, list[str]]:
    """``(files scanned, files holding the key)`` under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file() and p not in skip]
    return len(files), [f"{p}: {names}" for p in files if (names := leaks_in(p.read_bytes()))]


def test_caches_exports_and_downloads_hold_no_key(api_server: LocalServer, tmp_path: Path, netrc_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_FRAMES_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    out = tmp_path / "out"
    for cache in (True, tmp_path / "cache"):  # the default directory (under HOME), then an explicit one
        api = netrc_api(api_server, cache=cache)
        runs = api.runs(f"{ENTITY}/{PROJECT}")
        runs.to_arrow()
        runs.to_parquet(out / "runs.parquet")
        runs.to_parquet(out / "parts", partition_by=["state"])
        runs.history_frames().to_parquet(out / "histories.parquet")
        for run in runs:
            run.history_table()
            for file in run.files():
                file.download(out / run.id, replace=True)
    assert read_provenance(out / "runs.parquet")["server"] == api_server.url
    count, found = scan(tmp_path)
    home_count, home_found = scan(netrc_home, skip=(netrc_home / ".netrc",))
    assert count >= 12 and home_count >= 2, (count, home_count)  # exports, downloads, both caches
    assert found == [] and home_found == []


def test_cli_outputs_hold_no_key(api_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", api_server.url)
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
    for command in ("runs", "history"):
        for suffix in (".parquet", ".csv"):
            target = tmp_path / f"{command}{suffix}"
            assert main([command, f"{ENTITY}/{PROJECT}", "--no-progress", "-o", str(target)]) == 0
            assert target.stat().st_size > 0
    assert not leaks_in(capsys.readouterr().err)
    count, found = scan(tmp_path)
    assert count >= 4 and found == []
