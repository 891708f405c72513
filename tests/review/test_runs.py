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


@pytest.mark.xfail(strict=True, reason=(
    "runs.py:345-368: Runs.__iter__ -> _iter_kept -> iter_records applies `limit` only when "
    "exact_on_server (line 330) and never sorts, so with an order the server cannot apply "
    "(sort_locally) iteration yields every run in created_at order. Fix: in __iter__, when "
    "self._plan.sort_locally, collect the kept records (without limit), sort them with "
    "wff.sort_table on their flattened table plus a position column (as offline/local.py does), "
    "then apply limit and yield Run objects in that order; _iter_kept must not cut at `limit` "
    "before the local sort."))
def test_iterating_runs_honours_local_order_and_limit(api: Api) -> None:
    runs = api.runs(PATH, order="+notes", limit=3)
    assert [run.id for run in runs] == TOP3_BY_NOTES


@pytest.mark.xfail(strict=True, reason=(
    "runs.py:293-295: _iter_node_pages passes limit=self.limit to "
    "_fetch.iter_batched_node_pages even when the plan is not exact on the server; that "
    "stops listing IDs after `limit` runs (_fetch.py:188,210), before the local sort. "
    "Fix: pass limit=self.limit if self._plan.exact_on_server else None."))
def test_concurrent_fetch_local_order_with_limit(api: Api) -> None:
    runs = api.runs(PATH, order="+notes", limit=3, concurrency=4)
    assert runs.to_arrow().column("id").to_pylist() == TOP3_BY_NOTES


def test_sequential_fetch_local_filter_with_limit(api: Api) -> None:
    runs = api.runs(PATH, filters={"tags": {"$size": 2}}, limit=3)
    assert runs.to_arrow().column("id").to_pylist() == FIRST3_WITH_TWO_TAGS


@pytest.mark.xfail(strict=True, reason=(
    "runs.py:293-295 (same cause): with a local filter part, the concurrent path lists only "
    "`limit` IDs, then the local filter drops some of them: rows are lost (1 of 3 here). "
    "Fix: pass limit=self.limit if self._plan.exact_on_server else None."))
def test_concurrent_fetch_local_filter_with_limit_loses_no_rows(api: Api) -> None:
    runs = api.runs(PATH, filters={"tags": {"$size": 2}}, limit=3, concurrency=4)
    assert runs.to_arrow().column("id").to_pylist() == FIRST3_WITH_TWO_TAGS


@pytest.mark.xfail(strict=True, reason=(
    "runs.py:465,473: Runs.histories reads table.column('id') from the *projected* "
    "to_arrow() table, so columns=[...] without 'id' raises a bare pyarrow KeyError. Fix: "
    "keep the unprojected table in _fetch_table (e.g. self._raw_table before "
    "projection.select) and take run IDs and with_config/with_columns values from it."))
def test_histories_with_column_projection(api: Api) -> None:
    runs = api.runs(PATH, columns=["config.lr"], limit=2)
    h = runs.histories(keys=["loss"], with_config=["lr"])
    table = h.to_arrow()
    assert set(table.column("run_id").to_pylist()) == {"r0000", "r0001"}
    assert "config.lr" in table.column_names


@pytest.mark.xfail(strict=True, reason=(
    "run.py:387 (and runs.py:481) turn keys with list(keys): a bare string 'loss' becomes "
    "['l','o','s','s'] and the history comes back silently empty. Fix: raise "
    "ConfigurationError when isinstance(keys, str) before any request (as Run.files does "
    "for names), in Run.history_table/history/scan_history and Runs.histories."))
def test_history_keys_as_bare_string_is_rejected(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history(keys="loss")  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.xfail(strict=True, reason=(
    "run.py:385-392: Run.history_table checks samples < 2 only after fetching the whole "
    "history (RunParquetHistory + downloads). Fix: move the check above the "
    "fetch_run_history call."))
def test_history_samples_validated_before_any_request(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history_table(samples=1)
    assert server.requests == []


@pytest.mark.xfail(strict=True, reason=(
    "run.py:421-425: Run.history validates x_axis only after history_table() fetched "
    "everything. Fix: check x_axis (and format) at the top of Run.history."))
def test_history_x_axis_validated_before_any_request(api: Api, server: LocalServer) -> None:
    run = api.run(f"{PATH}/r0001")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.history(x_axis="bogus")
    assert server.requests == []


@pytest.mark.parametrize("sep", [
    ".",
    pytest.param("/", marks=pytest.mark.xfail(strict=True, reason=(
        "runs.py:361 (_iter_kept) and runs.py:418 (_fetch_table) evaluate the local filter "
        "part with wff.mask/wff.apply on a table flattened with self.sep, but filter keys "
        "name '.'-separated columns (config.lr), so with sep='/' the config branch never "
        "matches and rows are lost (1 of 4 here); sort_table has the same problem for a "
        "local order. Fix: evaluate the local part and the local sort on records flattened "
        "with '.', then build the output table with self.sep and take the kept rows "
        "(as offline/local.py now does)."))),
])
def test_local_filter_part_with_custom_sep(api: Api, sep: str) -> None:
    f = {"$or": [{"config.lr": {"$gt": 0.0175}}, {"notes": "note-0020"}]}
    runs = api.runs(PATH, filters=f, sep=sep)
    assert runs.filter_plan.local is not None
    assert runs.to_arrow().column("id").to_pylist() == ["r0000", "r0017", "r0018", "r0019"]


@pytest.mark.xfail(strict=True, reason=(
    "runs.py:117-123 (Projection.from_columns) projects server-side on the first segment "
    "only: columns=['summary.val.acc'] asks summaryMetrics(keys: ['val']), but W&B keys may "
    "hold the separator literally ('val.acc' is kept verbatim as column summary.val.acc), so "
    "the server drops it and the column comes back all null, silently. Fix: for a rest "
    "'a.b.c' request every prefix ('a', 'a.b', 'a.b.c') in config_keys/summary_keys."))
def test_projection_of_a_key_holding_the_separator() -> None:
    with LocalServer(entity="e") as srv:
        srv.add_runs("e", "p", [{"id": "a1", "summary": {"val.acc": 0.9, "loss": 0.1},
                                 "config": {"opt.lr": 0.01, "bs": 4}}])
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        assert "summary.val.acc" in api.runs("e/p").to_arrow().column_names
        table = api.runs("e/p", columns=["id", "summary.val.acc", "config.opt.lr"]).to_arrow()
        assert table.to_pylist() == [{"id": "a1", "summary.val.acc": 0.9, "config.opt.lr": 0.01}]
