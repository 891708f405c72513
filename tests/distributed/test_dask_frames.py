"""``to_dask()`` on a real two-process cluster equals the single-process frames."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from wandb_frames.api import Api
from wandb_frames.errors import ConfigurationError, SchemaError
from wandb_frames.testing import LocalServer


def _same(got: pd.DataFrame, expected: pd.DataFrame, by: list[str]) -> None:
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    got = got.sort_values(by).reset_index(drop=True)
    expected = expected.sort_values(by).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_runs_partitions_equal_to_pandas(api: Api, client: Any) -> None:
    runs = api.runs("local/alpha")
    ddf = runs.to_dask(batch_size=5, meta="scan")
    assert ddf.npartitions == 5 and ddf.known_divisions and ddf.divisions == (0, 5, 10, 15, 20, 23)
    got = ddf.compute()
    expected = runs.to_pandas(dtype_backend="pyarrow")
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)  # same order, no sort needed
    assert "config.late.depth" in got.columns and str(got["config.mixed"].dtype) == "string[pyarrow]"


def test_runs_with_filters_order_and_columns(api: Api, client: Any) -> None:
    for kwargs in (
        {"filters": {"config.opt": "sgd"}, "order": "-summary.loss"},
        {"filters": {"tags": {"$size": 2}, "summary.loss": {"$lt": 0.2}}},  # $size: a local part
        {"filters": "config.lr > 0.005", "columns": ["id", "state", "config.lr", "summary.*"]},
    ):
        runs = api.runs("local/alpha", **kwargs)
        expected = runs.to_pandas(dtype_backend="pyarrow")
        got = runs.to_dask(batch_size=3, meta="scan").compute()
        _same(got, expected, ["id"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)  # and in the same order


def test_first_batch_meta_and_explicit_schema(api: Api, client: Any) -> None:
    runs = api.runs("local/alpha")
    with pytest.raises(SchemaError, match="config.late.depth"):
        runs.to_dask(batch_size=5).compute()  # the first batch's schema lacks the later key
    ddf = runs.to_dask(batch_size=5, meta=runs.to_arrow().schema)
    _same(ddf.compute(), runs.to_pandas(dtype_backend="pyarrow"), ["id"])
    homogeneous = api.runs("local/alpha", columns=["id", "state", "config.lr", "summary.loss"])
    _same(homogeneous.to_dask(batch_size=4).compute(), homogeneous.to_pandas(dtype_backend="pyarrow"), ["id"])


def test_nothing_fetched_before_compute(api: Api, server: LocalServer) -> None:
    schema = api.runs("local/alpha").to_arrow().schema
    server.clear_requests()
    api.runs("local/alpha", filters={"state": "finished"}).to_dask(batch_size=3, meta=schema)
    assert [op for op, _ in server.requests] == ["RunIdsPage"]  # the ID listing only
    histories = api.runs("local/alpha", columns=["id"]).history_frames(keys=["loss"])
    server.clear_requests()
    histories.to_dask(batch_size=4)
    assert server.requests == []


def test_histories_long_and_wide(api: Api, client: Any) -> None:
    runs = api.runs("local/alpha", filters={"config.opt": "adam"})
    histories = runs.history_frames(with_config=["lr", "mixed"], with_columns=["state"])
    ddf = histories.to_dask(batch_size=5)
    assert ddf.npartitions == 3
    _same(ddf.compute(), histories.to_pandas(dtype_backend="pyarrow"), ["run_id", "_step", "metric"])
    wide = runs.history_frames(keys=["loss", "extra"])
    _same(wide.to_dask(batch_size=4, format="wide").compute(), wide.to_wide(dtype_backend="pyarrow"), ["run_id", "_step"])
    with pytest.raises(ConfigurationError, match="keys"):
        runs.history_frames().to_dask(format="wide")


def test_injected_faults_change_nothing(faulty_api: Api, faulty_server: LocalServer, api: Api,
                                        client: Any) -> None:
    expected_runs = api.runs("local/alpha").to_pandas(dtype_backend="pyarrow")
    expected_history = api.runs("local/alpha").history_frames(keys=["loss", "acc"]).to_pandas(dtype_backend="pyarrow")
    before = sum(faulty_server.fault_counts.values())
    runs = faulty_api.runs("local/alpha")
    got = runs.to_dask(batch_size=4, meta="scan").compute()
    _same(got, expected_runs, ["id"])
    history = runs.history_frames(keys=["loss", "acc"]).to_dask(batch_size=4).compute()
    _same(history, expected_history, ["run_id", "_step", "metric"])
    assert sum(faulty_server.fault_counts.values()) > before + 5


def test_unpartitionable_listings_are_refused(api: Api) -> None:
    with pytest.raises(ConfigurationError, match="locally"):
        api.runs("local/alpha", order="+notes").to_dask()
    with pytest.raises(ConfigurationError, match="batch_size"):
        api.runs("local/alpha").to_dask(batch_size=0)
