"""Fetching histories over real HTTP from the local server (parquet, live tail, paged fallback)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from graphql import build_schema, validate

from wandb_frames.errors import ConfigurationError, IncompleteResultError, NotFoundError
from wandb_frames.history import fetch_histories, fetch_run_history, scan_history_rows
from wandb_frames.history.fetch import fetch_run_long, load_query

from history_support import ENTITY, PROJECT, RECORDS, RUN_IDS, NoParquetExecutor, RequestsExecutor, expected_long

SCHEMA = Path("/work/shared/wandb-schema/derived_public_api_subset.graphql")
QUERIES = sorted((Path(__file__).parents[2] / "wandb_frames/history/queries").glob("*.graphql"))
BY_ID = {r["id"]: r for r in RECORDS}


def _as_dict(table: pa.Table) -> dict[tuple[int, str], float]:
    d = table.to_pydict()
    out: dict[tuple[int, str], float] = {}
    for s, m, v in zip(d["_step"], d["metric"], d["value"], strict=True):
        assert (s, m) not in out
        out[(s, m)] = v
    return out


def _same(a: dict[tuple[int, str], float], b: dict[tuple[int, str], float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_query_documents_validate_against_the_schema_subset(path: Path) -> None:
    schema = build_schema(SCHEMA.read_text())
    doc = load_query(path.stem)
    assert validate(schema, doc) == []
    ops = [d for d in doc.definitions if d.kind == "operation_definition"]
    assert len(ops) == 1 and ops[0].name is not None and ops[0].name.value == path.stem


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_parquet_and_paged_paths_equal_the_records(
    run_id: str, executor: RequestsExecutor, no_parquet: NoParquetExecutor
) -> None:
    want = expected_long(BY_ID[run_id].get("history", []))
    fast = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id=run_id)
    assert _same(_as_dict(fast), want)
    if run_id != "running":
        # The server answers ranged reads of a partly exported (running) run from its live rows
        # only, so a client that ignores the export cannot see the rest there.
        paged = fetch_run_history(no_parquet, no_parquet.get, entity=ENTITY, project=PROJECT, run_id=run_id,
                                  page_size=7)
        assert _same(_as_dict(paged), want)
    assert "RunParquetHistory" in executor.calls
    assert "HistoryPage" not in executor.calls or run_id == "running"


def test_running_run_reads_parquet_plus_live_tail(executor: RequestsExecutor) -> None:
    table = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="running")
    assert executor.calls == ["RunParquetHistory", "HistoryPage"]
    assert table.column("_step").to_pylist() == list(range(40))


def test_resumed_run_last_write_wins(executor: RequestsExecutor) -> None:
    d = _as_dict(fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="resumed"))
    assert d[(25, "loss")] == 125.0 and d[(19, "loss")] == 29.0 and d[(25, "only_first")] == 1.0


def test_skipped_counts_non_numeric(executor: RequestsExecutor) -> None:
    part = fetch_run_long(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain")
    assert part.skipped == {"caption": 3, "img": 3}


def test_keys_and_step_range(executor: RequestsExecutor, no_parquet: NoParquetExecutor) -> None:
    for ex in (executor, no_parquet):
        t = fetch_run_history(ex, ex.get, entity=ENTITY, project=PROJECT, run_id="plain",
                              keys=["eval/loss", "loss"], min_step=10, max_step=30)
        assert set(t.column("metric").to_pylist()) == {"eval/loss", "loss"}
        steps = t.column("_step").to_pylist()
        assert min(steps) == 10 and max(steps) == 29 and len(t) == 20 + 2


def test_wide_format_outer_joins_sparse_metrics(executor: RequestsExecutor) -> None:
    wide = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain", format="wide")
    assert wide.num_rows == 60
    assert wide.column("eval/loss").null_count == 54
    assert wide.column_names[:4] == ["run_id", "_step", "_timestamp", "_runtime"]


def test_system_stream(executor: RequestsExecutor) -> None:
    t = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain", stream="system")
    assert t.num_rows == 24 and t.column("_step").null_count == 24
    assert sorted(set(t.column("metric").to_pylist())) == ["system.cpu", "system.gpu.0.gpu"]
    wide = fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain",
                             stream="system", format="wide")
    assert wide.num_rows == 12 and "_timestamp" in wide.column_names
    with pytest.raises(ConfigurationError):
        fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain",
                          stream="system", min_step=3)


def test_unknown_run_is_not_found(executor: RequestsExecutor) -> None:
    with pytest.raises(NotFoundError):
        fetch_run_history(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="nope")


def test_histories_long_wide_parquet_and_batches(executor: RequestsExecutor, tmp_path: Path) -> None:
    runs = ["plain", "resumed", "gaps"]
    cols = {"plain": {"config.lr": 0.1, "group": "g1"}, "resumed": {"config.lr": 0.01, "group": "g2"},
            "gaps": {"config.lr": 1.0, "group": None}}
    h = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=runs,
                        run_columns=cols, max_workers=2)
    long = h.to_arrow()
    assert long.column("run_id").to_pylist()[0] == "plain"
    assert [r for r in dict.fromkeys(long.column("run_id").to_pylist())] == runs
    for rid in runs:
        part = long.filter(pa.compute.equal(long.column("run_id"), rid))
        assert _same(_as_dict(part), expected_long(BY_ID[rid]["history"]))
        assert set(part.column("config.lr").to_pylist()) == {cols[rid]["config.lr"]}
    df = h.to_pandas()
    assert str(df["metric"].dtype) == "category" and len(df) == long.num_rows
    wide = h.to_wide()
    assert list(wide.columns[:4]) == ["run_id", "_step", "_timestamp", "_runtime"]
    assert len(wide) == 60 + 45 + 6 and "config.lr" in wide.columns
    h.to_parquet(tmp_path / "long.parquet")
    assert pq.read_table(tmp_path / "long.parquet").num_rows == long.num_rows
    h.to_parquet(tmp_path / "wide.parquet", format="wide")
    assert pq.read_table(tmp_path / "wide.parquet").num_rows == len(wide)
    streamed = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=runs)
    assert sum(b.num_rows for b in streamed.iter_batches(max_rows=50)) == long.num_rows
    assert streamed.skipped["plain"] == {"caption": 3, "img": 3}


def test_histories_samples_are_deterministic(executor: RequestsExecutor) -> None:
    def go() -> Any:
        return fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=["plain", "gaps"],
                               samples=10).to_arrow()

    a, b = go(), go()
    assert repr(a.to_pydict()) == repr(b.to_pydict())
    loss = a.filter(pa.compute.equal(a.column("metric").cast(pa.string()), "loss"))
    assert 2 <= loss.num_rows <= 10 and 1.0 in loss.column("value").to_pylist()


def test_histories_failure_keeps_partial(executor: RequestsExecutor) -> None:
    h = fetch_histories(executor, executor.get, entity=ENTITY, project=PROJECT, run_ids=["plain", "nope"])
    with pytest.raises(IncompleteResultError) as info:
        h.to_arrow()
    assert isinstance(info.value.__cause__, NotFoundError)
    assert set(info.value.partial.column("run_id").to_pylist()) == {"plain"}


def test_scan_history_rows_match_records(executor: RequestsExecutor) -> None:
    rows = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain", page_size=16))
    # Parquet rows carry every column (None where absent); media dicts are JSON text in the file.
    assert [{k: v for k, v in r.items() if v is not None} for r in rows][1] == _plain_rows()[1]
    assert len(rows) == 60 and [r["_step"] for r in rows] == list(range(60))
    tail = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="running"))
    assert [r["_step"] for r in tail] == list(range(40))
    with_keys = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="plain",
                                       keys=["eval/loss", "loss"], page_size=16))
    assert [r["_step"] for r in with_keys] == list(range(60))
    assert all(list(r) == ["_step", "eval/loss", "loss"] for r in with_keys)
    assert [r["_step"] for r in with_keys if r["eval/loss"] is not None] == list(range(0, 60, 10))
    part = list(scan_history_rows(executor, executor.get, entity=ENTITY, project=PROJECT, run_id="gaps", min_step=5, max_step=1001))
    assert [r["_step"] for r in part] == [5, 100, 1000]


def _plain_rows() -> list[dict[str, Any]]:
    return list(BY_ID["plain"]["history"])
