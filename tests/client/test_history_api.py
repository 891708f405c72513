"""``Run.history``/``scan_history`` and ``Runs.histories`` through the public Api, over HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from wandb_frames.api import Api
from wandb_frames.errors import ConfigurationError
from wandb_frames.testing import LocalServer
from wandb_frames.testing.synthetic import synthetic_project

# The synthetic project holds a config key that is a number in some runs and "auto" in others.
pytestmark = pytest.mark.filterwarnings("ignore::wandb_frames.errors.LossyConversionWarning")

ENTITY = "hist"
PROJECT = "curves"


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[LocalServer, list[dict[str, Any]]]]:
    records = [dict(r) for r in synthetic_project(6, seed=3, history_steps=40)]
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, records)  # type: ignore[arg-type]
        yield srv, records


@pytest.fixture
def api(seeded: tuple[LocalServer, list[dict[str, Any]]]) -> Api:
    server, _ = seeded
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)


def _expected_points(record: dict[str, Any], metric: str) -> dict[int, float]:
    """Last value per step of one metric, as the documented last-write-wins rule says."""
    points: dict[int, float] = {}
    for row in record.get("history", []):
        value = row.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            points[int(row["_step"])] = float(value)
    return points


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_run_history_is_the_full_history_wide(seeded: Any, api: Api) -> None:
    _, records = seeded
    record = records[0]
    frame = api.run(f"{ENTITY}/{PROJECT}/{record['id']}").history()
    expected = _expected_points(record, "loss")
    got = {int(s): v for s, v in zip(frame["_step"], frame["loss"], strict=True) if v is not None}
    assert set(got) == set(expected)
    assert all(_same(float(got[s]), expected[s]) for s in expected)
    # sparse metrics are outer-joined by step: eval rows exist only every few steps
    assert frame["eval/loss"].isna().sum() > 0


def test_run_history_samples_are_deterministic(api: Api, seeded: Any) -> None:
    _, records = seeded
    run = api.run(f"{ENTITY}/{PROJECT}/{records[1]['id']}")
    first = run.history_table(keys=["loss"], samples=8)
    again = run.history_table(keys=["loss"], samples=8)
    assert first.equals(again)
    assert 0 < first.num_rows <= 8
    with pytest.raises(ConfigurationError):
        run.history_table(samples=1)


def test_scan_history_yields_every_row_in_step_order(api: Api, seeded: Any) -> None:
    _, records = seeded
    record = records[2]
    rows = list(api.run(f"{ENTITY}/{PROJECT}/{record['id']}").scan_history())
    steps = [row["_step"] for row in rows]
    assert steps == sorted(steps)
    assert len(rows) == len(record.get("history", []))


def test_runs_histories_long_with_config_attached(api: Api, seeded: Any) -> None:
    _, records = seeded
    runs = api.runs(f"{ENTITY}/{PROJECT}")
    histories = runs.history_frames(keys=["loss"], with_config=["optimizer.lr"], with_columns=["group"])
    table = histories.to_arrow()
    assert {"run_id", "_step", "metric", "value", "config.optimizer.lr", "group"} <= set(table.column_names)
    by_id = {r["id"]: r for r in records}
    for run_id in set(table.column("run_id").to_pylist()):
        part = table.filter(pa.compute.equal(table.column("run_id"), run_id))
        assert part.num_rows == len(_expected_points(by_id[run_id], "loss"))
        lr = set(part.column("config.optimizer.lr").to_pylist())
        assert lr == {by_id[run_id]["config"]["optimizer"]["lr"]}
    wide = histories.to_wide()
    assert "loss" in wide.columns and len(wide) == sum(
        len(_expected_points(r, "loss")) for r in records
    )


def test_runs_histories_rejects_unknown_attached_column(api: Api) -> None:
    with pytest.raises(ConfigurationError, match="no such column"):
        api.runs(f"{ENTITY}/{PROJECT}").history_frames(with_config=["nope"])
