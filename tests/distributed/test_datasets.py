"""Partitioned, resumable parquet datasets: one schema, provenance everywhere, every reader, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed_support import ENTITY, RUNS

from wandb_frames.api import Api
from wandb_frames.distributed.dataset import is_complete, manifest_dir
from wandb_frames.errors import ConfigurationError, ExportError
from wandb_frames.export import PROVENANCE_KEY, read_parquet, write_parquet_stream
from wandb_frames.testing import LocalServer
from wandb_frames.testing.faults import Faults


def _provenance(path: Path) -> dict[str, Any]:
    return dict(json.loads(pq.read_metadata(path).metadata[PROVENANCE_KEY]))


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def _sorted(table: pa.Table, by: list[str]) -> pd.DataFrame:
    frame = table.to_pandas().sort_values(by).reset_index(drop=True)
    return frame


def test_history_dataset_reads_everywhere(api: Api, server: LocalServer, tmp_path: Path) -> None:
    histories = api.runs("local/alpha").history_frames(keys=["loss", "acc"], with_config=["lr"])
    root = histories.to_parquet(tmp_path / "history", partition_by="batch", batch_size=5)
    expected = histories.to_arrow()
    files = _files(root)
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(5)]
    for i, f in enumerate(files):
        meta = _provenance(f)
        assert meta["batch"] == i and meta["project"] == "alpha" and meta["keys"] == ["loss", "acc"]
        assert meta["row_count"] == pq.read_metadata(f).num_rows and meta["server"] == server.url
        assert server.api_key.encode() not in f.read_bytes()
    by = ["run_id", "_step", "metric"]
    ours = read_parquet(root)
    assert ours.schema.remove_metadata().equals(expected.schema)
    pd.testing.assert_frame_equal(_sorted(ours, by), _sorted(expected, by))
    assert len(pd.read_parquet(root)) == expected.num_rows
    assert sorted(p.name for p in root.iterdir()) == [f.name for f in files]  # parquet files only
    assert len(pl.read_parquet(root)) == expected.num_rows
    con = duckdb.connect()
    assert con.execute(f"select count(*) from read_parquet('{root}/*.parquet')").fetchone() == (
        expected.num_rows,)
    assert len(dd.read_parquet(root).compute()) == expected.num_rows
    filtered = read_parquet(root, filters={"config.lr": {"$gt": 0.01}})  # pushed into the scan
    assert filtered.num_rows == 14 * 6 * 2 and min(filtered.column("config.lr").to_pylist()) > 0.01


def test_runs_dataset_has_one_schema(api: Api, tmp_path: Path) -> None:
    runs = api.runs("local/alpha")
    root = runs.to_parquet(tmp_path / "runs", partition_by=["state"], batch_size=5)
    expected = runs.to_arrow()
    files = _files(root)
    assert {f.parent.name for f in files} == {"state=finished", "state=crashed", "state=running"}
    schemas = {pq.read_schema(f).remove_metadata() for f in files}
    assert len(schemas) == 1  # every file conformed to the union of the batches' schemas
    (schema,) = schemas
    single = pq.read_schema(runs.to_parquet(tmp_path / "runs.parquet")).remove_metadata()
    assert schema.equals(single.remove(single.get_field_index("state")), check_metadata=True)
    back = read_parquet(root)
    assert back.num_rows == len(RUNS)
    assert back.schema.field("config.mixed").metadata == {b"wandb_frames.encoding": b"json"}
    got = read_parquet(root, filters={"state": "finished", "config.late.depth": {"$gte": 15}})
    assert sorted(got.column("id").to_pylist()) == sorted(
        r["id"] for i, r in enumerate(RUNS) if i % 3 == 0 and i >= 15)


def test_dask_batches_write_the_same_dataset(api: Api, client: Any, tmp_path: Path) -> None:
    histories = api.runs("local/alpha").history_frames(keys=["loss"])
    one = histories.to_parquet(tmp_path / "one", partition_by="batch", batch_size=4)
    two = histories.to_parquet(tmp_path / "two", partition_by="batch", batch_size=4, use_dask=True)
    by = ["run_id", "_step", "metric"]
    pd.testing.assert_frame_equal(_sorted(read_parquet(one), by), _sorted(read_parquet(two), by))
    runs = api.runs("local/alpha")
    three = runs.to_parquet(tmp_path / "three", partition_by="batch", batch_size=7, use_dask=True)
    pd.testing.assert_frame_equal(_sorted(read_parquet(three), ["id"]), _sorted(runs.to_arrow(), ["id"]))


def test_single_file_has_large_row_groups(api: Api, tmp_path: Path) -> None:
    histories = api.runs("local/alpha").history_frames()
    path = histories.to_parquet(tmp_path / "h.parquet")
    assert pq.ParquetFile(path).num_row_groups == 1  # not one per run
    table = histories.to_arrow()
    small = write_parquet_stream((table.slice(i, 10) for i in range(0, table.num_rows, 10)), table.schema,
                                 tmp_path / "small.parquet", row_group_size=64)
    sizes = [pq.ParquetFile(small).metadata.row_group(i).num_rows
             for i in range(pq.ParquetFile(small).num_row_groups)]
    assert sizes[:-1] == [64] * (len(sizes) - 1) and sum(sizes) == table.num_rows


def test_resume_refuses_another_request_and_foreign_dirs(api: Api, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    api.runs("local/alpha").history_frames(keys=["loss"]).to_parquet(root, partition_by="batch", batch_size=5)
    with pytest.raises(ConfigurationError, match="keys"):
        api.runs("local/alpha").history_frames(keys=["acc"]).to_parquet(root, partition_by="batch", resume=True,
                                                                   batch_size=5)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a wandb-frames dataset"):
        api.runs("local/alpha").to_parquet(foreign, partition_by="batch")


EXPORT = """
import sys, warnings
warnings.simplefilter("ignore")
from wandb_frames.api import Api
api = Api(overrides={"base_url": sys.argv[1]}, progress=False)  # the key: WANDB_API_KEY
histories = api.runs("local/alpha").history_frames(keys=["loss", "acc"], max_workers=2)
histories.to_parquet(sys.argv[2], partition_by="batch", batch_size=2, resume=True)
"""


def test_killed_export_resumes_to_the_same_dataset(tmp_path: Path) -> None:
    slow = Faults(seed=1, delay=0.1, delay_rate=1.0)
    with LocalServer(entity=ENTITY, faults=slow) as srv:
        srv.add_runs(ENTITY, "alpha", RUNS)
        root = tmp_path / "killed"
        env = {**os.environ, "WANDB_API_KEY": srv.api_key}
        proc = subprocess.Popen([sys.executable, "-c", EXPORT, srv.url, str(root)], env=env)
        done = manifest_dir(root) / "done"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if done.is_dir() and len(list(done.glob("*.json"))) >= 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the export finished before it could be killed"
        finished = {int(p.stem) for p in done.glob("*.json")}
        assert 3 <= len(finished) < len(RUNS) // 2
        assert not is_complete(root)
        before = {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in _files(root)
                  if int(f.stem.split("-")[1]) in finished}
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        srv.clear_requests()
        histories = api.runs("local/alpha").history_frames(keys=["loss", "acc"], max_workers=2)
        histories.to_parquet(root, partition_by="batch", batch_size=2, resume=True)
        fetched = [variables["run"] for op, variables in srv.requests if op == "RunParquetHistory"]
        fetched += [name for op, variables in srv.requests if op == "RunsParquetHistory"  # a batch's runs at once
                    for name in json.loads(variables["filters"])["name"]["$in"]]
        assert len(fetched) == len(RUNS) - 2 * len(finished)  # the finished batches were not fetched again
        for f, stat in before.items():
            assert (f.stat().st_ino, f.stat().st_mtime_ns) == stat  # nor written again
        assert not list(root.rglob(".*"))  # no temp file of the killed writer is left
        fresh = api.runs("local/alpha").history_frames(keys=["loss", "acc"]).to_parquet(
            tmp_path / "fresh", partition_by="batch", batch_size=2)
    resumed_files, fresh_files = _files(root), _files(fresh)
    assert [f.name for f in resumed_files] == [f.name for f in fresh_files]
    for a, b in zip(resumed_files, fresh_files, strict=True):
        assert pq.read_table(a).equals(pq.read_table(b))
        pa_meta, pb_meta = _provenance(a), _provenance(b)
        pa_meta.pop("fetched_at"), pb_meta.pop("fetched_at")
        assert pa_meta == pb_meta
    assert is_complete(root) and not is_complete(fresh.with_name("other"))


def test_history_dataset_partitioned_by_metric(api: Api, tmp_path: Path) -> None:
    histories = api.runs("local/alpha").history_frames(keys=["loss", "acc"])
    root = histories.to_parquet(tmp_path / "by-metric", partition_by=["metric"], batch_size=10)
    assert sorted(p.name for p in root.iterdir()) == ["metric=acc", "metric=loss"]
    assert len(list(root.rglob("*.parquet"))) == 2 * 3  # a file per metric and batch
    back = read_parquet(root)
    expected = histories.to_arrow()
    by = ["run_id", "_step", "metric"]
    got = back.select(expected.column_names).to_pandas().astype({"metric": str})
    want = expected.to_pandas().astype({"metric": str})
    pd.testing.assert_frame_equal(got.sort_values(by).reset_index(drop=True),
                                  want.sort_values(by).reset_index(drop=True))
    loss = duckdb.connect().execute(
        f"select count(*) from read_parquet('{root}/*/*.parquet', hive_partitioning=true) "
        "where metric = 'loss'").fetchone()
    assert loss == (len(RUNS) * 6,)
