"""Filters, order, limit and columns answered from the cache; offline answers and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from cache_support import ENTITY, PROJECT, fetch, make_api, requests_of, same_rows

from wandb_frames import filters as wff
from wandb_frames.errors import CacheError, FilterError
from wandb_frames.testing import LocalServer

FILTERS: list[Any] = [
    {"config.lr": {"$gt": 0.01}},
    {"state": "finished", "tags": "even"},
    {"$or": [{"summary.loss": {"$lt": 0.05}}, {"config.opt": "sgd"}]},
    "config.layers in [1, 3] and not state == 'crashed'",
    {"display_name": {"$regex": "run-1"}},
]


@pytest.mark.parametrize("spec", FILTERS)
def test_complete_cache_answers_filters_like_the_server(
    server: LocalServer, cache_dir: Path, spec: Any
) -> None:
    fetch(server, cache_dir)
    server.clear_requests()
    cached = fetch(server, cache_dir, filters=spec, order="-summary.loss")
    sent = [f for op, f in requests_of(server) if op == "RunsPage"]
    assert sent and all(f == "{}" for f in sent)  # only the refresh scan: the filter stays local
    uncached = fetch(server, None, filters=spec, order="-summary.loss")
    assert cached.column("id").to_pylist() == uncached.column("id").to_pylist()
    assert cached.num_rows > 0


def test_limit_and_columns_from_the_cache(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    kwargs: dict[str, Any] = {"filters": {"config.opt": "adam"}, "order": "+summary.acc",
                              "limit": 5, "columns": ["id", "summary.loss"]}
    cached = fetch(server, cache_dir, **kwargs)
    uncached = fetch(server, None, **kwargs)
    assert cached.column_names == ["id", "summary.loss"]
    assert cached.to_pylist() == uncached.to_pylist()


def test_filtered_first_fetch_fetches_only_matching_runs(server: LocalServer, cache_dir: Path) -> None:
    spec = {"config.opt": "sgd"}
    table = fetch(server, cache_dir, filters=spec)
    listed = [f for op, f in requests_of(server) if op == "RunIdsPage"]
    assert listed and all("sgd" in f for f in listed)  # the snapshot is filtered on the server
    fetched = [f for op, f in requests_of(server) if op == "RunsPage"]  # the first page, filtered too
    assert fetched and all("sgd" in f or orjson.loads(f)["name"]["$in"] for f in fetched)
    assert table.num_rows == 20
    # offline: the same filter is answered, any other one is refused (the cache is partial)
    offline = fetch(server, cache_dir, filters=spec, offline=True)
    assert same_rows(offline, table)
    with pytest.raises(CacheError, match="other filtered fetches"):
        fetch(server, cache_dir, filters={"config.opt": "adam"}, offline=True)
    with pytest.raises(CacheError):
        fetch(server, cache_dir, offline=True)
    # an unfiltered fetch completes the entry; then any filter works offline
    fetch(server, cache_dir)
    adam = fetch(server, cache_dir, filters={"config.opt": "adam"}, offline=True)
    assert adam.num_rows == 20


def test_offline_sends_no_request(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    server.clear_requests()
    api = make_api(server, None)  # no cache configured: offline uses the default directory
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_FRAMES_CACHE_DIR", str(cache_dir))
        runs = api.runs(f"{ENTITY}/{PROJECT}", filters="state == 'crashed'", offline=True)
        assert len(runs) == runs.to_arrow().num_rows == 12
        assert runs.to_pandas().shape[0] == 12
        with pytest.raises(CacheError, match="to_arrow"):
            next(iter(runs))
    assert server.requests == []


def test_offline_without_cache_is_a_clear_error(server: LocalServer, cache_dir: Path) -> None:
    with pytest.raises(CacheError, match="nothing is cached for local/proj"):
        fetch(server, cache_dir, offline=True)
    assert server.requests == []


def test_bad_filter_fails_before_any_request(server: LocalServer, cache_dir: Path) -> None:
    with pytest.raises(FilterError):
        fetch(server, cache_dir, filters={"id": "r0001"})
    assert server.requests == []


def test_server_only_filter_falls_back_to_the_server(server: LocalServer, cache_dir: Path) -> None:
    """Whole-object equality is left to the server: the cache does not guess."""
    fetch(server, cache_dir)
    spec = {"config.layers": {"$in": [1, 2]}}
    assert wff.apply(fetch(server, cache_dir), spec).num_rows == fetch(server, cache_dir, filters=spec).num_rows
