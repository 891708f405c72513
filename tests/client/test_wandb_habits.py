"""What wandb users expect of the objects: NaN-safe ``best_run``, typo warnings, provenance, CLI.

All against the real local server (no mocks of our own code).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from wandb_frames import cli
from wandb_frames.api import Api
from wandb_frames.errors import (
    FilterSyntaxError,
    LossyConversionWarning,
    UnknownKeyWarning,
    UnsupportedFeatureError,
)
from wandb_frames.export import read_provenance
from wandb_frames.testing import LocalServer
from wandb_frames.version import __version__

ENTITY = "local"
PROJECT = "habits"
START = datetime(2025, 3, 1, tzinfo=UTC)


def _run(i: int, loss: Any, **extra: Any) -> dict[str, Any]:
    summary = {} if loss is _ABSENT else {"eval/loss": loss}
    return {
        "id": f"h{i}", "display_name": f"run-{i}", "state": "finished", "sweep": "sw1",
        "created_at": START + timedelta(minutes=i), "config": {"lr": 0.1 * (i + 1)},
        "summary": {**summary, "acc": 0.5}, "history": [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(5)],
        **extra,
    }


_ABSENT = object()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    runs = [_run(0, float("nan")), _run(1, None), _run(2, _ABSENT), _run(3, 0.5), _run(4, 0.25),
            _run(5, 0.4, config={"lr": 0.1, "seed": 1}, sweep=None)]
    mixed = [_run(6, 0.3, config={"seed": 1}), _run(7, 0.4, config={"seed": "auto"})]
    sweep = {"id": "sw1", "method": "random", "state": "FINISHED",
             "config": {"metric": {"name": "eval/loss", "goal": "minimize"}, "parameters": {"lr": {"values": [1]}}}}
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, runs)
        srv.add_runs(ENTITY, "mixed", mixed)
        srv.add_runs(ENTITY, "textual", [_run(0, 0.1, history=[{"_step": s, "phase": "train"} for s in range(3)])])
        srv.add_sweeps(ENTITY, PROJECT, [sweep])
        yield srv


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)


# ----------------------------------------------------------------------------- best_run


def test_best_run_skips_nan_null_and_missing_targets(api: Api) -> None:
    sweep = api.sweep(f"{ENTITY}/{PROJECT}/sw1")
    best = sweep.best_run()
    assert best is not None and best.id == "h4"
    assert best.summary["eval/loss"] == 0.25


def test_best_run_maximize_skips_nan(api: Api) -> None:
    best = api.sweep(f"{ENTITY}/{PROJECT}/sw1").best_run(order="-summary_metrics.eval/loss")
    assert best is not None
    value = best.summary_metrics.get("eval/loss")
    assert isinstance(value, float) and not math.isnan(value) and value == 0.5


# ----------------------------------------------------------------------------- typos


def test_typo_in_filter_key_warns_with_closest_name(api: Api) -> None:
    with pytest.warns(UnknownKeyWarning, match=r"config\.lrr.*config\.lr") as caught:
        table = api.runs(f"{ENTITY}/{PROJECT}", filters={"config.lrr": {"$gt": 0}}).to_arrow()
    assert table.num_rows == 0
    typo = [w for w in caught if issubclass(w.category, UnknownKeyWarning)]
    assert typo[0].filename == __file__  # points at this line, not at wandb_frames
    assert "config.lr" in typo[0].message.suggestions  # type: ignore[union-attr]


def test_known_filter_key_absent_from_matches_does_not_warn(api: Api) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownKeyWarning)
        # config.seed exists on one run only; the runs matched here lack it
        api.runs(f"{ENTITY}/{PROJECT}", filters={"$and": [{"config.lr": {"$lt": 0.25}},
                                                          {"config.seed": {"$exists": False}}]}).to_arrow()


def test_typo_in_columns_warns(api: Api) -> None:
    with pytest.warns(UnknownKeyWarning, match=r"summary\.eval/los'.*summary\.eval/loss"):
        api.runs(f"{ENTITY}/{PROJECT}", columns=["id", "summary.eval/los"]).to_arrow()


def test_typo_in_history_keys_warns(api: Api) -> None:
    run = api.run(f"{ENTITY}/{PROJECT}/h3")
    with pytest.warns(UnknownKeyWarning, match=r"'los'.*'loss'"):
        run.history_table(keys=["los"])
    with pytest.warns(UnknownKeyWarning, match=r"'los'.*'loss'"):
        rows = run.history(keys=["los"], pandas=False)
    assert rows == []


def test_typo_in_history_frames_keys_warns_once_all_runs_are_fetched(api: Api) -> None:
    histories = api.runs(f"{ENTITY}/{PROJECT}").history_frames(keys=["loss", "los"])
    with pytest.warns(UnknownKeyWarning, match=r"history key 'los'.*'loss'") as caught:
        table = histories.to_arrow()
    typo = [w for w in caught if issubclass(w.category, UnknownKeyWarning)]
    assert len(typo) == 1 and typo[0].filename == __file__
    assert typo[0].message.suggestions == ["loss"]  # type: ignore[union-attr]
    assert set(table.column("metric").to_pylist()) == {"loss"} and table.num_rows == 6 * 5


def test_history_frames_keys_logged_but_not_read_do_not_warn(api: Api) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownKeyWarning)
        # logged by every run, but outside the steps asked for: no rows, yet no typo
        assert api.runs(f"{ENTITY}/{PROJECT}").history_frames(keys=["loss"], min_step=100).to_arrow().num_rows == 0
        # logged as text only: left out of the numeric rows, counted in .skipped
        histories = api.runs(f"{ENTITY}/textual").history_frames(keys=["phase"])
        assert histories.to_arrow().num_rows == 0
        assert histories.skipped["h0"] == {"phase": 3}
        # a projection that stops early reads no verdict
        assert next(api.runs(f"{ENTITY}/{PROJECT}").history_frames(keys=["loss", "los"]).iter_batches()).num_rows


def test_expression_errors_suggest_quoting_and_and() -> None:
    from wandb_frames.filters import parse_filter

    with pytest.raises(FilterSyntaxError, match=r"summary\['eval/loss'\]"):
        parse_filter("summary.eval/loss < 1")
    with pytest.raises(FilterSyntaxError, match="`and` instead of `&`"):
        parse_filter("config.lr > 1 & state == 'finished'")


# ----------------------------------------------------------------------------- warnings, provenance


def test_lossy_conversion_warning_points_at_the_callers_line(api: Api) -> None:
    with pytest.warns(LossyConversionWarning, match="config.seed") as caught:
        api.runs(f"{ENTITY}/mixed").to_pandas()
    assert all(w.filename == __file__ for w in caught if issubclass(w.category, LossyConversionWarning))


def test_provenance_records_limit_and_columns(api: Api, tmp_path: Path) -> None:
    runs = api.runs(f"{ENTITY}/{PROJECT}", limit=3, columns=["id", "summary.*"])
    path = runs.to_parquet(tmp_path / "runs.parquet")
    meta = read_provenance(path)
    assert meta["limit"] == 3 and meta["columns"] == ["id", "summary.*"]
    assert pq.read_table(path).num_rows == 3


# ----------------------------------------------------------------------------- wandb members


def test_unsupported_member_names_the_feature(api: Api) -> None:
    run = api.run(f"{ENTITY}/{PROJECT}/h3")
    with pytest.raises(UnsupportedFeatureError, match="Run.console_logs") as info:
        run.console_logs()
    assert info.value.feature == "Run.console_logs" and isinstance(info.value, NotImplementedError)


def test_run_fields_are_wandbs(api: Api) -> None:
    runs = api.runs(f"{ENTITY}/{PROJECT}")
    run = runs[-2]
    assert run.id == "h4" and run.path == [ENTITY, PROJECT, "h4"] and runs[-1].sweep is None
    assert isinstance(run.created_at, str) and run.created_at.startswith("2025-03-01T00:04:00")
    assert run.summary._json_dict["eval/loss"] == 0.25 and run.summary.acc == 0.5
    assert not hasattr(run.summary, "nope")
    assert run.sweep.id == "sw1" and run.sweep.config["metric"]["name"] == "eval/loss"
    listing = api.runs(f"{ENTITY}/{PROJECT}")
    assert str(listing.to_arrow().schema.field("created_at").type) == "timestamp[us, tz=UTC]"  # typed in frames
    assert pd.api.types.is_datetime64_any_dtype(listing.to_pandas()["created_at"])


# ----------------------------------------------------------------------------- CLI


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"wandb-frames {__version__}"


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "parquet"])
def test_cli_formats(server: LocalServer, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    out = tmp_path / "runs.out"
    code = cli.main(["runs", f"{ENTITY}/{PROJECT}", "--columns", "id", "created_at", "summary.eval/loss",
                     "--format", fmt, "-o", str(out), "--no-progress"])
    assert code == 0
    if fmt == "parquet":
        assert pq.read_table(out).column("id").to_pylist()[0] == "h0"
    elif fmt == "csv":
        assert out.read_text().splitlines()[0].replace('"', "") == "id,created_at,summary.eval/loss"
    else:
        text = out.read_text()
        rows = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
        assert [r["id"] for r in rows] == [f"h{i}" for i in range(6)]
        assert rows[0]["summary.eval/loss"] is None  # NaN has no JSON form
        assert rows[0]["created_at"].startswith("2025-03-01T00:00:00")


def test_cli_rejects_unknown_suffix_without_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["runs", "e/p", "-o", "x.txt"]) == 2
    assert "--format" in capsys.readouterr().err
