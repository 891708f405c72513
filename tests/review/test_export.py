"""Review: export errors are typed and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from wandb_frames.errors import ExportError
from wandb_frames.export import read_parquet, write_parquet, write_parquet_stream


def test_stream_with_other_column_names_is_an_export_error(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(ExportError):
        write_parquet_stream([pa.table({"b": [1]})], schema, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_failed_partitioned_write_leaves_no_staging_dir(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2], "l": [[1], [2]]})
    with pytest.raises(ExportError):
        write_parquet(table, tmp_path / "ds", partition_by=["l"])  # list keys cannot partition
    assert list(tmp_path.iterdir()) == []


def test_partitioned_rewrite_after_a_crash_left_old_dir(tmp_path: Path) -> None:
    table = pa.table({"p": ["x", "y"], "v": [1, 2]})
    target = tmp_path / "ds"
    write_parquet(table, target, partition_by=["p"])
    stale = tmp_path / ".ds.old"
    (stale / "p=z").mkdir(parents=True)
    (stale / "p=z" / "part-0.parquet").write_bytes(b"junk")
    write_parquet(table, target, partition_by=["p"])
    assert sorted(read_parquet(target).column("v").to_pylist()) == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_provenance_server_url_carries_no_credentials(tmp_path: Path) -> None:
    from wandb_frames.export import provenance, read_provenance

    secret = "local-" + "s" * 40
    meta = provenance(server=f"https://api:{secret}@wandb.example.com:8443/base?api_key={secret}#x",
                      entity="e", project="p")
    assert meta["server"] == "https://wandb.example.com:8443/base"
    target = write_parquet(pa.table({"a": [1]}), tmp_path / "x.parquet", metadata=meta)
    assert secret.encode() not in target.read_bytes()
    assert read_provenance(target)["server"] == "https://wandb.example.com:8443/base"
