"""Parquet export: typed columns, provenance without secrets, pandas/polars/DuckDB, atomicity."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from wandb_frames import export
from wandb_frames import filters as wff
from wandb_frames.version import __version__
from wandb_frames.api import Api
from wandb_frames.errors import ConfigurationError, ExportError
from wandb_frames.export import read_parquet, read_provenance, write_parquet, write_parquet_stream
from wandb_frames.testing import LocalServer


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mixed config column warns by design
        yield


def _runs_file(api: Api, tmp_path: Path, **kwargs: Any) -> tuple[pa.Table, Path]:
    runs = api.runs("local/alpha", **kwargs)
    path = tmp_path / "runs.parquet"
    runs.to_parquet(path)
    return runs.to_arrow(), path


def test_runs_parquet_keeps_types_and_provenance(api: Api, server: LocalServer, tmp_path: Path) -> None:
    table, path = _runs_file(api, tmp_path, filters={"state": {"$ne": "running"}}, order="-summary.loss")
    back = pq.read_table(path)
    assert back.schema.remove_metadata().equals(table.schema.remove_metadata(), check_metadata=False)
    assert str(back.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert str(back.schema.field("tags").type).startswith("list<")
    assert back.schema.field("config.mixed").metadata == {b"wandb_frames.encoding": b"json"}
    meta = read_provenance(path)
    assert meta["server"] == server.url and (meta["entity"], meta["project"]) == ("local", "alpha")
    assert meta["filters"] == {"state": {"$ne": "running"}} and meta["filters_sent"] == '{"state":{"$ne":"running"}}'
    assert meta["order"] == "-summary.loss" and meta["order_sent"] == "-summary_metrics.loss"
    assert meta["row_count"] == table.num_rows == 20 and meta["wandb_frames_version"] == __version__
    assert "fetched_at" in meta
    raw = path.read_bytes()
    assert server.api_key.encode() not in raw and b"api_key" not in raw


def test_runs_parquet_reads_in_pandas_polars_duckdb(api: Api, tmp_path: Path) -> None:
    table, path = _runs_file(api, tmp_path)
    frame = pd.read_parquet(path)
    assert len(frame) == 30 and frame["summary.loss"].dtype == "float64"
    polars = pl.read_parquet(path)
    assert polars.height == 30 and polars.schema["created_at"] == pl.Datetime("us", "UTC")
    assert polars.schema["tags"] == pl.List(pl.String)
    con = duckdb.connect()
    got = con.execute(f"select count(*), max(\"config.lr\") from read_parquet('{path}') "
                      "where list_contains(tags, 'y')").fetchone()
    assert got == (15, pytest.approx(0.029))


def test_histories_parquet_reads_everywhere_with_provenance(api: Api, server: LocalServer,
                                                            tmp_path: Path) -> None:
    histories = api.runs("local/alpha", filters={"config.opt": "sgd"}).history_frames(keys=["loss"])
    path = tmp_path / "history.parquet"
    histories.to_parquet(path)
    assert pq.read_table(path).num_rows == 15 * 4
    assert len(pd.read_parquet(path)) == pl.read_parquet(path).height == 60
    assert duckdb.connect().execute(
        f"select count(distinct run_id) from read_parquet('{path}')").fetchone() == (15,)
    meta = read_provenance(path)
    assert meta["project"] == "alpha" and meta["keys"] == ["loss"] and meta["row_count"] == 60
    assert server.api_key.encode() not in path.read_bytes()


def test_partitioned_dataset_is_scanned_lazily(api: Api, tmp_path: Path) -> None:
    alpha, beta = api.runs("local/alpha").to_arrow(), api.runs("local/beta").to_arrow()
    both = pa.concat_tables([alpha, beta.select(alpha.column_names)])
    target = tmp_path / "by_project"
    write_parquet(both, target, partition_by=["project"], metadata={"entity": "local"})
    assert sorted(p.name for p in target.iterdir()) == ["project=alpha", "project=beta"]
    lazy = pl.scan_parquet(target / "**/*.parquet", hive_partitioning=True)
    assert lazy.filter(pl.col("project") == "beta").select(pl.len()).collect().item() == 10
    got = duckdb.connect().execute(
        f"select project, count(*) from read_parquet('{target}/**/*.parquet', hive_partitioning=true) "
        "group by project order by project").fetchall()
    assert got == [("alpha", 30), ("beta", 10)]
    assert read_provenance(target)["entity"] == "local"
    # rewriting replaces the whole directory atomically (no stale partitions)
    write_parquet(beta, target, partition_by=["project"])
    assert sorted(p.name for p in target.iterdir()) == ["project=beta"]


PUSHABLE = [{"config.lr": {"$gt": 0.01}}, {"state": {"$in": ["finished", "crashed"]}},
            "summary.loss < 0.1 and state != 'running'"]
LOCAL_ONLY = [{"tags": {"$size": 2}}, {"config.opt": {"$regex": "ADAM", "$options": "i"}},
              {"config.mixed": "auto"}]


@pytest.mark.parametrize("spec", PUSHABLE + LOCAL_ONLY)
def test_read_parquet_filters_like_apply(api: Api, tmp_path: Path, spec: Any) -> None:
    table, path = _runs_file(api, tmp_path)
    expected = wff.apply(table, spec)
    got = read_parquet(path, filters=spec)
    assert got.column("id").to_pylist() == expected.column("id").to_pylist()
    assert 0 < got.num_rows < table.num_rows


@pytest.mark.parametrize("spec", PUSHABLE)
def test_pushable_filters_prune_the_scan(api: Api, tmp_path: Path, spec: Any) -> None:
    table, path = _runs_file(api, tmp_path)
    dataset = ds.dataset(path, format="parquet")
    expression = wff.to_arrow_expression(wff.parse_filter(spec), dataset.schema)
    assert expression is not None
    assert dataset.count_rows(filter=expression) == wff.apply(table, spec).num_rows


def test_read_parquet_on_a_partitioned_directory(api: Api, tmp_path: Path) -> None:
    table = api.runs("local/alpha").to_arrow()
    target = tmp_path / "by_state"
    write_parquet(table, target, partition_by=["state"])
    got = read_parquet(target, filters={"state": "crashed", "config.lr": {"$gt": 0.01}}, columns=["id"])
    expected = wff.apply(table, {"state": "crashed", "config.lr": {"$gt": 0.01}})
    assert sorted(got.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
    with pytest.raises(ExportError, match="no such parquet"):
        read_parquet(tmp_path / "missing.parquet")


def test_crash_during_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t.parquet"
    write_parquet(pa.table({"id": ["a"]}), target)
    before = target.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(export.os, "replace", crash)
    with pytest.raises(ExportError, match="simulated crash"):
        write_parquet(pa.table({"id": ["b", "c"]}), target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temp file left behind


def test_stream_failure_part_way_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "s.parquet"
    schema = pa.schema([("x", pa.int64())])
    write_parquet_stream([pa.table({"x": [1, 2]})], schema, target, metadata={"project": "p"})
    before = target.read_bytes()
    bad = [pa.table({"x": [3]}), pa.table({"x": ["not a number"]})]  # second cast fails
    with pytest.raises(ExportError):
        write_parquet_stream(bad, schema, target)
    assert target.read_bytes() == before and pq.read_table(target).column("x").to_pylist() == [1, 2]
    assert read_provenance(target) == {**read_provenance(target), "project": "p", "row_count": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["s.parquet"]


def test_provenance_refuses_secrets() -> None:
    with pytest.raises(ConfigurationError):
        export.provenance(api_key="x")
    with pytest.raises(ConfigurationError):
        export.provenance(Authorization="Basic x")
    assert export.provenance(project="p")["project"] == "p"


def _column_layout(path: Path) -> dict[str, set[tuple[str, bool]]]:
    """Per column of ``path``: the set of (codec, has a dictionary page) over its row groups."""
    meta = pq.ParquetFile(path).metadata
    layout: dict[str, set[tuple[str, bool]]] = {}
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            chunk = meta.row_group(g).column(c)
            layout.setdefault(chunk.path_in_schema, set()).add((chunk.compression, chunk.has_dictionary_page))
    return layout


@pytest.mark.parametrize("how", ["streamed", "fetched first", "dataset"])
def test_history_files_are_laid_out_for_fast_reads(api: Api, tmp_path: Path, how: str) -> None:
    """The properties the read speed of docs/benchmarks.md §10 rests on, on real exports.

    Large row groups (not one per run); LZ4 everywhere; dictionary pages for the repeating
    columns (run, step, metric) and none for the float columns; each run's rows contiguous, in
    (metric, step) order; the metric column written as polars's own Categorical
    (``dictionary<uint32, string>`` with polars's field metadata: polars maps the dictionary
    pages to categories instead of hashing every row) and still read back as a dictionary
    (pandas ``category``).
    """
    histories = api.runs("local/alpha").history_frames()
    if how == "fetched first":
        histories.to_arrow()
    target = tmp_path / ("dataset" if how == "dataset" else "history.parquet")
    if how == "dataset":
        histories.to_parquet(target, partition_by="batch", batch_size=7)
        files = sorted(target.glob("*.parquet"))
        assert len(files) == 5
    else:
        histories.to_parquet(target)
        files = [target]
    for path in files:
        meta = pq.ParquetFile(path).metadata
        assert meta.num_row_groups == 1 and meta.num_rows > 7  # several runs per row group
        layout = _column_layout(path)
        assert layout == {
            "run_id": {("LZ4", True)}, "_step": {("LZ4", True)}, "metric": {("LZ4", True)},
            "value": {("LZ4", False)}, "_timestamp": {("LZ4", False)}, "_runtime": {("LZ4", False)},
        }, path
        # pyarrow says LZ4; the codec in the file is LZ4_RAW (not the deprecated Hadoop LZ4)
        duck = {row[0]: row[1:] for row in duckdb.connect().execute(
            f"select path_in_schema, compression, encodings from parquet_metadata('{path}')").fetchall()}
        assert {codec for codec, _ in duck.values()} == {"LZ4_RAW"}
        assert "RLE_DICTIONARY" in duck["metric"][1] and "RLE_DICTIONARY" not in duck["value"][1]
        on_disk = pq.read_schema(path).field("metric")
        assert on_disk.type == pa.dictionary(pa.uint32(), pa.string())
        assert on_disk.metadata == {b"_PL_CATEGORICAL2": b"0;0;u32;"}
    table = pa.concat_tables(pq.read_table(p) for p in files)
    runs = table.column("run_id").to_pylist()
    starts = [i for i in range(len(runs)) if i == 0 or runs[i] != runs[i - 1]]
    assert len(starts) == len(set(runs)) == 30  # each run's rows are contiguous
    keys = list(zip(table.column("metric").to_pylist(), table.column("_step").to_pylist(), strict=True))
    assert all(keys[i] < keys[i + 1] for i in range(len(keys) - 1) if runs[i] == runs[i + 1])  # metric, step
    assert table.num_rows == histories.to_arrow().num_rows == 30 * 4 * 2
    frame = pd.read_parquet(files[0])
    assert str(frame["metric"].dtype) == "category"
    assert pl.read_parquet(files[0]).height == len(frame)


def _means(table: pa.Table) -> dict[str, float]:
    """Mean ``value`` per metric name."""
    grouped = table.select(["metric", "value"]).cast(
        pa.schema([pa.field("metric", pa.string()), pa.field("value", pa.float64())])
    ).group_by("metric").aggregate([("value", "mean")])
    return dict(zip(grouped.column("metric").to_pylist(), grouped.column("value_mean").to_pylist(), strict=True))


@pytest.mark.parametrize("how", ["streamed", "fetched first", "dataset", "hive"])
def test_history_files_read_back_with_the_types_of_to_arrow(api: Api, tmp_path: Path, how: str) -> None:
    """Only the file's schema changed for polars: our reader, pandas, polars and DuckDB read what they did.

    ``read_parquet`` gives ``to_arrow()``'s schema exactly (``metric`` a ``dictionary<int32,
    string>`` without polars's marker), so its tables concatenate with fresh ones; pandas gets a
    ``category``, polars a ``Categorical``, DuckDB a ``VARCHAR``; the numbers agree everywhere.
    """
    histories = api.runs("local/alpha").history_frames()
    if how == "fetched first":
        histories.to_arrow()
    target = tmp_path / "history.parquet"
    if how == "dataset":
        histories.to_parquet(target, partition_by="batch", batch_size=7)
    elif how == "hive":
        histories.to_parquet(target, partition_by=["metric"], batch_size=7)
    else:
        histories.to_parquet(target)
    expected = histories.to_arrow()
    ours = read_parquet(target)
    if how == "hive":  # the folder names hold the metric: a partition column (string), as before
        assert ours.schema.field("metric").type == pa.string()
    else:
        assert ours.schema.remove_metadata().equals(expected.schema, check_metadata=True)
        assert all(chunk.type == pa.dictionary(pa.int32(), pa.string()) for chunk in ours.column("metric").chunks)
        pa.concat_tables([ours.replace_schema_metadata(None), expected])  # one schema: no promotion needed
        assert str(ours.to_pandas()["metric"].dtype) == "category"
    assert ours.num_rows == expected.num_rows
    want = _means(expected)
    assert _means(ours) == pytest.approx(want)
    source = str(target / "**" / "*.parquet") if target.is_dir() else str(target)
    frame = pd.read_parquet(target)
    assert str(frame["metric"].dtype) == "category" and len(frame) == expected.num_rows
    lazy = pl.scan_parquet(source, hive_partitioning=how == "hive")
    if how != "hive":
        assert lazy.collect_schema()["metric"] == pl.Categorical
    by_polars = lazy.group_by("metric").agg(pl.col("value").mean()).collect()
    assert dict(zip(by_polars["metric"].cast(pl.String), by_polars["value"], strict=True)) == pytest.approx(want)
    duck = duckdb.connect().execute(
        f"select metric, avg(value), typeof(any_value(metric)) from read_parquet('{source}', hive_partitioning = true) "
        "group by metric").fetchall()
    assert {row[0]: row[1] for row in duck} == pytest.approx(want)
    assert {row[2] for row in duck} == {"VARCHAR"}


@pytest.mark.parametrize("old_batch", [0, 3])
def test_read_parquet_reads_files_of_the_previous_writer_alongside(api: Api, tmp_path: Path, old_batch: int) -> None:
    """A dataset resumed across versions: a file with the old ``dictionary<int32, string>`` metric
    next to new ones reads as one table in pyarrow's type, in pandas, polars and DuckDB (whichever
    kind of file a reader takes the dataset's schema from)."""
    histories = api.runs("local/alpha").history_frames()
    root = histories.to_parquet(tmp_path / "history", partition_by="batch", batch_size=7)
    old = root / f"part-{old_batch:05d}.parquet"
    table = pq.read_table(old)
    before = table.cast(export.memory_schema(table.schema))  # as the writer before this change wrote it
    assert before.schema.field("metric").type == pa.dictionary(pa.int32(), pa.string())
    pq.write_table(before, old, compression="lz4")
    assert pq.read_schema(old).field("metric").metadata is None
    expected = histories.to_arrow()
    each = [read_parquet(p).replace_schema_metadata(None) for p in sorted(root.glob("*.parquet"))]
    assert all(t.schema.equals(expected.schema, check_metadata=True) for t in each)
    assert pa.concat_tables(each).num_rows == expected.num_rows
    ours = read_parquet(root)
    assert ours.schema.remove_metadata().equals(expected.schema) and ours.num_rows == expected.num_rows
    assert _means(ours) == pytest.approx(_means(expected))
    assert len(pd.read_parquet(root)) == expected.num_rows
    assert pl.scan_parquet(root).group_by("metric").agg(pl.col("value").mean()).collect().height == len(_means(expected))
    assert duckdb.connect().execute(f"select count(*) from read_parquet('{root}/*.parquet')").fetchone() == (
        expected.num_rows,)
