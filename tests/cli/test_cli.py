"""``wandb-frames`` in-process against a local server: outputs, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from wandb_frames.cli import main
from wandb_frames.export import read_provenance
from wandb_frames.testing import LocalServer

PATH = "local/cli"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_runs_csv_on_stdout(env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "runs", PATH, "--no-progress")
    assert code == 0
    table = rows(out)
    assert len(table) == 12 and table[0]["id"] == "c000"
    assert json.loads(table[1]["tags"]) == ["a", "b"]  # lists as JSON text


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--filter", '{"state": "finished", "config.lr": {"$gt": 0.05}}'),
     ("--where", "state == 'finished' and config.lr > 0.05")],
)
def test_filter_and_where_select_the_same_runs(
    env: LocalServer, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    code, out, _ = run(capsys, "runs", PATH, flag, value, "--order", "-summary.loss",
                       "--columns", "id", "summary.loss", "--no-progress")
    assert code == 0
    table = rows(out)
    assert [r["id"] for r in table] == ["c005", "c007", "c009", "c011"]
    assert list(table[0]) == ["id", "summary.loss"]


def test_parquet_output_with_provenance(env: LocalServer, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    code, out, err = run(capsys, "runs", PATH, "--where", "state == 'crashed'", "-o", str(target))
    assert code == 0 and out == ""
    assert "wrote 6 rows" in err
    assert pq.read_table(target).num_rows == 6
    meta = read_provenance(target)
    assert meta["project"] == "cli" and meta["filters"] == "state == 'crashed'" and meta["row_count"] == 6
    assert env.api_key.encode() not in target.read_bytes()


def test_csv_file_output(env: LocalServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, _, _ = run(capsys, "runs", PATH, "--limit", "3", "-o", str(target))
    assert code == 0 and len(rows(target.read_text())) == 3


def test_history_long_format(env: LocalServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "history", PATH, "--where", "config.opt == 'sgd'", "--keys", "loss",
                       "--no-progress")
    assert code == 0
    table = rows(out)
    assert {r["run_id"] for r in table} == {"c000", "c003", "c006", "c009"}
    assert len(table) == 4 * 5 and {r["metric"] for r in table} == {"loss"}
    target = tmp_path / "h.parquet"
    assert run(capsys, "history", PATH, "--limit", "2", "-o", str(target))[0] == 0
    assert pq.read_table(target).num_rows == 2 * 5
    assert read_provenance(target)["project"] == "cli"


@pytest.mark.parametrize(
    "argv",
    [["runs", PATH, "--filter", "{not json"],
     ["runs", PATH, "--filter", '{"id": "c001"}'],
     ["runs", PATH, "--where", "config.lr >"],
     ["runs", PATH, "--order", "-no_such_key"],
     ["history", PATH, "--filter", '{"$bogus": 1}'],
     ["runs", PATH, "--filter", "[" * 100_000 + "]" * 100_000],
     ["runs", PATH, "--filter", '{"$and": [' * 1000 + '{"state": "x"}' + "]}" * 1000],
     ["runs", PATH, "--filter", '{"state": "\\ud800"}'],
     ["runs", PATH, "--filter", '{"config.seed": {"$gt": 1' + "0" * 400 + "}}"],
     ["runs", PATH, "--where", "not " * 1000 + "state == 'x'"]],
)
def test_bad_filter_exits_2_before_any_request(
    env: LocalServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("wandb-frames: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert env.requests == []


def test_bad_usage_exits_2(env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "no-such-command")[0] == 2
    assert run(capsys, "runs")[0] == 2
    assert run(capsys, "runs", PATH, "--filter", "{}", "--where", "x == 1")[0] == 2
    code, _, err = run(capsys, "runs", PATH, "-o", "out.xlsx")
    assert code == 2 and "--output" in err
    assert run(capsys, "--help")[0] == 0


def test_unknown_project_exits_1_with_one_line(env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "runs", "local/no-such-project", "--no-progress")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "NotFoundError" in err and "Traceback" not in err
    assert env.api_key not in err


def test_debug_shows_the_traceback(env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--debug", "runs", "local/no-such-project", "--no-progress")
    assert code == 1 and "Traceback" in err
    code, _, err = run(capsys, "runs", "local/no-such-project", "--debug", "--no-progress")
    assert code == 1 and "Traceback" in err


def test_missing_api_key_is_a_usage_error(env: LocalServer, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code, _, err = run(capsys, "runs", PATH)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_cache_flags_and_cache_commands(env: LocalServer, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    code, _, err = run(capsys, "runs", PATH, "--offline")
    assert code == 1 and "CacheError" in err and "nothing is cached" in err
    assert env.requests == []
    assert run(capsys, "runs", PATH, "--cache", "--no-progress")[0] == 0
    env.clear_requests()
    code, out, _ = run(capsys, "runs", PATH, "--offline", "--where", "state == 'crashed'")
    assert code == 0 and len(rows(out)) == 6 and env.requests == []
    code, out, err = run(capsys, "cache", "info")
    assert code == 0 and "local/cli\t12 runs\tcomplete" in out and "cache directory" in err
    other = tmp_path / "elsewhere"
    assert run(capsys, "runs", PATH, "--cache", str(other), "--no-progress")[0] == 0
    assert "local/cli" in run(capsys, "cache", "info", "--cache-dir", str(other))[1]
    assert run(capsys, "cache", "clear", "local/other")[2].startswith("removed 0 cache entries")
    code, _, err = run(capsys, "cache", "clear", "local/cli")
    assert code == 0 and "removed 1 cache entry" in err
    assert run(capsys, "cache", "info")[1] == ""
    assert run(capsys, "cache", "clear", "a/b/c")[0] == 2


# The demo project holds a config key that is a number in some runs and "auto" in others.
@pytest.mark.filterwarnings("ignore::wandb_frames.errors.LossyConversionWarning")
def test_serve_demo_in_a_subprocess_then_query_runs_and_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.cli", "serve", "--demo", "--runs", "12",
         "--history-steps", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        for line in proc.stdout:
            name, _, value = line.strip().partition(" ")
            lines[name] = value
            if {"URL", "KEY"} <= set(lines):
                break
        monkeypatch.setenv("WANDB_API_KEY", lines["KEY"])
        monkeypatch.setenv("WANDB_BASE_URL", lines["URL"])
        monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
        out = tmp_path / "h.parquet"
        code = main(["history", "demo/sweep-demo", "--keys", "loss", "--limit", "3",
                     "--no-progress", "-o", str(out)])
        assert code == 0, capsys.readouterr().err
        table = pq.read_table(out)
        assert table.num_rows > 0
        assert set(table.column("metric").to_pylist()) == {"loss"}
        assert len(set(table.column("run_id").to_pylist())) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_network_flags_bound_the_retries(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    from wandb_frames.testing import Faults

    with LocalServer(entity="local", faults=Faults(server_error=1.0, statuses=(503,))) as srv:
        monkeypatch.setenv("WANDB_API_KEY", srv.api_key)
        monkeypatch.setenv("WANDB_BASE_URL", srv.url)
        monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
        code, _, err = run(capsys, "runs", PATH, "--no-progress", "--retries", "0", "--timeout", "5",
                           "--retry-deadline", "30")
        assert code == 1 and "503" in err and len(err.strip().splitlines()) == 1
        # no retry: the ID snapshot and the first page (sent side by side) each went out once
        first = srv.fault_counts["server_error"]
        assert first in (1, 2)
        code, _, err = run(capsys, "history", PATH, "--no-progress", "--retries", "1")
        second = srv.fault_counts["server_error"] - first
        assert code == 1 and 2 <= second <= 4  # one retry: each request it sent went out at most twice
        for flag, value in (("--retries", "-1"), ("--retry-deadline", "0"), ("--timeout", "-3")):
            code, _, err = run(capsys, "runs", PATH, flag, value)
            assert code == 2, (flag, err)
        assert srv.fault_counts["server_error"] == first + second  # bad values fail before any request
