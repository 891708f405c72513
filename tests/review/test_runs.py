"""Review: ``Runs``/``Run`` over real HTTP (limit with local order/filter, projections, validation)."""

from __future__ import annotations

import pytest

from wandb_frames.api import Api
from wandb_frames.errors import ConfigurationError
from wandb_frames.testing import LocalServer

from .conftest import ENTITY, PROJECT

PATH = f"{ENTITY}/{PROJECT}"
# ``notes`` are written in the reverse of creation order and the server cannot sort by them.
TOP3_BY_NOTES = ["r0019", "r0018", "r0017"]
# ``$size`` is local only: the odd runs have two tags.
FIRST3_WITH_TWO_TAGS = ["r0001", "r0003", "r0005"]


def test_to_arrow_local_order_with_limit_is_right(api: Api) -> None:
    runs = api.runs(PATH, order="+notes", limit=3)
    assert runs.to_arrow().column("id").to_pylist() == TOP3_BY_NOTES


def test_iterating_runs_honours_local_order_and_limit(api: Api) -> None:
    runs = api.runs(PATH, order="+notes", limit=3)
    assert [run.id for run in runs] == TOP3_BY_NOTES


def test_concurrent_fetch_local_order_with_limit(api: Api) -> None:
    runs = api.runs(PATH, order="+notes", limit=3, concurrency=4)
    assert runs.to_arrow().column("id").to_pylist() == TOP3_BY_NOTES


def test_sequential_fetch_local_filter_with_limit(api: Api) -> None:
    runs = api.runs(PATH, filters={"tags": {"$size": 2}}, limit=3)
    assert runs.to_arrow().column("id").to_pylist() == FIRST3_WITH_TWO_TAGS


def test_concurrent_fetch_local_filter_with_limit_loses_no_rows(api: Api) -> None:
    runs = api.runs(PATH, filters={"tags": {"$size": 2}}, limit=3, concurrency=4)
    assert runs.to_arrow().column("id").to_pylist() == FIRST3_WITH_TWO_TAGS


def test_histories_with_column_projection(api: Api) -> None:
    runs = api.runs(PATH, columns=["config.lr"], limit=2)
    h = runs.history_frames(keys=["loss"], with_config=["lr"])
    table = h.to_arrow()
    assert set(table.column("run_id").to_pylist()) == {"r0000", "r0001"}
    assert "config.lr" in table.column_names


def test_history_keys_as_bare_string_is_rejected(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history(keys="loss")  # type: ignore[arg-type]
    assert server.requests == []


def test_history_samples_validated_before_any_request(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history_table(samples=1)
    assert server.requests == []


def test_history_x_axis_validated_before_any_request(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history(x_axis="bogus", format="wide")  # the typed history is keyed by _step or _timestamp
    assert server.requests == []


@pytest.mark.parametrize("sep", [
    ".",
    "/",
])
def test_local_filter_part_with_custom_sep(api: Api, sep: str) -> None:
    f = {"$or": [{"config.lr": {"$gt": 0.0175}}, {"notes": "note-0020"}]}
    runs = api.runs(PATH, filters=f, sep=sep)
    assert runs.filter_plan.local is not None
    assert runs.to_arrow().column("id").to_pylist() == ["r0000", "r0017", "r0018", "r0019"]


def test_projection_of_a_key_holding_the_separator() -> None:
    with LocalServer(entity="e") as srv:
        srv.add_runs("e", "p", [{"id": "a1", "summary": {"val.acc": 0.9, "loss": 0.1},
                                 "config": {"opt.lr": 0.01, "bs": 4}}])
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        assert "summary.val.acc" in api.runs("e/p").to_arrow().column_names
        table = api.runs("e/p", columns=["id", "summary.val.acc", "config.opt.lr"]).to_arrow()
        assert table.to_pylist() == [{"id": "a1", "summary.val.acc": 0.9, "config.opt.lr": 0.01}]
