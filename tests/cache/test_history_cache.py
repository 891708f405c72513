"""Runs.history_frames() with Api(cache=...): finished runs' histories are kept on disk."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cache_support import ENTITY, PROJECT, make_api

from wandb_frames.cache.store import RunsCache
from wandb_frames.errors import CacheError, CorruptRecordWarning, IncompleteResultError
from wandb_frames.testing import LocalServer

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HISTORY_OPS = {"RunParquetHistory", "RunsParquetHistory", "HistoryPage", "RunHistoryKeys", "SampledHistoryPage"}


def _record(i: int, state: str, heartbeat: datetime) -> dict[str, Any]:
    return {
        "id": f"h{i}", "state": state, "created_at": T0 + timedelta(minutes=i), "heartbeat_at": heartbeat,
        "config": {"lr": 0.1 * (i + 1)},
        "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 1.0 / (s + 1 + i)}
                    for s in range(20)],
    }


RECORDS = [_record(0, "finished", T0), _record(1, "crashed", T0), _record(2, "running", T0)]


@pytest.fixture
def hserver() -> Any:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, RECORDS)
        yield srv


def _history_requests(server: LocalServer) -> list[str]:
    return sorted(str(v.get("name") or v.get("runName") or v) for op, v in server.requests if op in HISTORY_OPS)


def _histories(server: LocalServer, cache: Any, **kwargs: Any) -> Any:
    return make_api(server, cache).runs(f"{ENTITY}/{PROJECT}", **kwargs).history_frames(keys=["loss"]).to_pandas()


def test_finished_runs_come_from_the_cache_the_second_time(hserver: LocalServer, tmp_path: Path) -> None:
    first = _histories(hserver, RunsCache(tmp_path))
    assert len(first) == 60
    fetched = [op for op, _ in hserver.requests if op in HISTORY_OPS]
    assert fetched
    hserver.clear_requests()
    second = _histories(hserver, RunsCache(tmp_path))
    assert second.equals(first)
    asked = [v for op, v in hserver.requests if op in HISTORY_OPS]
    assert asked and all("h2" in str(v) for v in asked)  # only the running run was asked again
    assert len(list((tmp_path / "histories").rglob("*.parquet"))) == 2
    uncached = _histories(hserver, None)
    assert uncached.equals(first)


def test_a_resumed_run_is_fetched_again(hserver: LocalServer, tmp_path: Path) -> None:
    _histories(hserver, RunsCache(tmp_path))
    resumed = _record(0, "finished", T0 + timedelta(days=1))
    resumed["history"] = resumed["history"] + [{"_step": 20, "_runtime": 20.0, "_timestamp": 1.7e9 + 20,
                                                "loss": 0.01}]
    hserver.add_runs(ENTITY, PROJECT, [resumed])
    hserver.clear_requests()
    frame = _histories(hserver, RunsCache(tmp_path))
    assert any("h0" in str(v) for op, v in hserver.requests if op in HISTORY_OPS)
    assert frame[frame["run_id"] == "h0"]["_step"].max() == 20


def test_other_keys_or_steps_are_other_entries(hserver: LocalServer, tmp_path: Path) -> None:
    api = make_api(hserver, RunsCache(tmp_path))
    runs = api.runs(f"{ENTITY}/{PROJECT}")
    runs.history_frames(keys=["loss"]).to_arrow()
    hserver.clear_requests()
    part = runs.history_frames(keys=["loss"], min_step=5, max_step=10).to_pandas()
    assert sorted(set(part["_step"])) == list(range(5, 10))
    assert any("h0" in str(v) for op, v in hserver.requests if op in HISTORY_OPS)


def test_offline_answers_finished_runs_and_refuses_the_rest(hserver: LocalServer, tmp_path: Path) -> None:
    _histories(hserver, RunsCache(tmp_path))
    hserver.clear_requests()
    api = make_api(hserver, RunsCache(tmp_path))
    done = api.runs(f"{ENTITY}/{PROJECT}", filters={"state": "finished"}, offline=True)
    assert len(done.history_frames(keys=["loss"]).to_pandas()) == 20
    assert hserver.requests == []
    with pytest.raises(IncompleteResultError, match="h2.*final state") as info:
        api.runs(f"{ENTITY}/{PROJECT}", offline=True).history_frames(keys=["loss"]).to_pandas()
    assert isinstance(info.value.__cause__, CacheError)
    assert info.value.partial is not None and info.value.partial.num_rows == 40
    assert hserver.requests == []


def test_a_damaged_file_warns_and_is_fetched_again(hserver: LocalServer, tmp_path: Path) -> None:
    first = _histories(hserver, RunsCache(tmp_path))
    for path in (tmp_path / "histories").rglob("*.parquet"):
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(data))
    hserver.clear_requests()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _histories(hserver, RunsCache(tmp_path))
    assert again.equals(first)
    assert any(issubclass(w.category, CorruptRecordWarning) for w in caught)
    assert any("h0" in str(v) for op, v in hserver.requests if op in HISTORY_OPS)


def test_the_api_key_is_never_in_a_history_file(hserver: LocalServer, tmp_path: Path) -> None:
    _histories(hserver, RunsCache(tmp_path))
    files = list((tmp_path / "histories").rglob("*"))
    assert files
    for path in files:
        if path.is_file():
            assert hserver.api_key.encode() not in path.read_bytes()


def test_clear_removes_the_projects_histories(hserver: LocalServer, tmp_path: Path) -> None:
    cache = RunsCache(tmp_path)
    _histories(hserver, cache)
    assert cache.clear(entity="someone-else") == 0
    assert list((tmp_path / "histories").rglob("*.parquet"))
    assert cache.clear(entity=ENTITY, project=PROJECT) == 1
    assert not list((tmp_path / "histories").rglob("*.parquet"))


def test_a_single_runs_history_uses_the_same_cache(hserver: LocalServer, tmp_path: Path) -> None:
    first = make_api(hserver, RunsCache(tmp_path)).run(f"{ENTITY}/{PROJECT}/h0").history(keys=["loss"], samples=None,
                                                                                   format="wide")
    hserver.clear_requests()
    api = make_api(hserver, RunsCache(tmp_path))
    run = api.run(f"{ENTITY}/{PROJECT}/h0")
    again = run.history(keys=["loss"], samples=None, format="wide")
    assert again.equals(first) and len(again) == 20
    assert [op for op, _ in hserver.requests if op in HISTORY_OPS] == []
    # the listing's histories() finds the same file: same query, same stamp
    listing = api.runs(f"{ENTITY}/{PROJECT}", filters={"state": "finished"}).history_frames(keys=["loss"]).to_pandas()
    assert len(listing) == 20
    assert [op for op, _ in hserver.requests if op in HISTORY_OPS] == []
    running = api.run(f"{ENTITY}/{PROJECT}/h2")
    hserver.clear_requests()
    running.history(keys=["loss"], samples=None, format="wide")
    assert [op for op, _ in hserver.requests if op in HISTORY_OPS]  # never cached


def test_cached_histories_come_back_in_the_long_schema(hserver: LocalServer, tmp_path: Path) -> None:
    """The cache files are written like exports (``metric`` as polars's Categorical on disk);
    a history read from them has ``to_arrow()``'s schema, so it concatenates with fetched ones."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wandb_frames.history import LONG_SCHEMA

    def table() -> pa.Table:
        runs = make_api(hserver, RunsCache(tmp_path)).runs(f"{ENTITY}/{PROJECT}")
        return runs.history_frames(keys=["loss"]).to_arrow()

    fetched = table()
    files = list((tmp_path / "histories").rglob("*.parquet"))
    assert len(files) == 2
    assert all(pq.read_schema(f).field("metric").type == pa.dictionary(pa.uint32(), pa.string()) for f in files)
    hserver.clear_requests()
    cached = table()
    asked = [v for op, v in hserver.requests if op in HISTORY_OPS]
    assert asked and all("h2" in str(v) for v in asked)  # the finished runs came from the cache
    assert cached.schema.equals(LONG_SCHEMA, check_metadata=True) and fetched.schema.equals(LONG_SCHEMA)
    assert cached.equals(fetched)
