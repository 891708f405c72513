"""Partitioned, resumable parquet datasets: one unit of work per batch of runs.

Layout of a dataset directory ``root``::

    root/part-00000.parquet                    partition_by="batch": one file per batch of runs
    root/state=finished/part-00000-0.parquet   partition_by=["state"]: Hive folders
    .root.wandb-frames/plan.json               the request and its batches of run IDs (first)
    .root.wandb-frames/done/00000.json         one marker per finished batch (files, rows)
    .root.wandb-frames/complete.json           written last, once every batch is done

The manifest folder sits beside the dataset, not in it: ``root`` holds parquet files only, so
every reader opens it as it is (polars refuses a folder with other files in it).
Every parquet file is written under a temporary name and renamed into place, then its
batch's marker is written the same way, so a batch is either marked done with all its files
in place, or redone on resume (its files are rewritten under the same names). ``resume=True``
reads the plan (the same batches, even if the project changed since) and skips the batches
with a marker. Each file's schema metadata holds the provenance
(``wandb_frames.provenance``: server, entity/project, filters, batch, row count; never a key).
Row groups hold ``row_group_size`` rows (default 2**20), however many runs that takes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from wandb_frames.errors import ConfigurationError, ExportError
from wandb_frames.export import (
    COMPRESSION,
    PROVENANCE_KEY,
    ROW_GROUP_SIZE,
    create_sibling_dir,
    create_sibling_file,
    disk_schema,
    parquet_options,
    row_groups,
    to_disk,
)
from wandb_frames.tabular.unify import conform_table, field_kind, unify_schemas
from wandb_frames.version import __version__

__all__ = [
    "ROW_GROUP_SIZE",
    "BatchWriter",
    "DatasetPlan",
    "finish_dataset",
    "is_complete",
    "manifest_dir",
    "open_dataset",
    "row_groups",
    "run_batches",
]

def manifest_dir(root: str | os.PathLike[str]) -> Path:
    """The manifest folder of the dataset at ``root``: ``.<name>.wandb-frames`` beside it."""
    target = Path(root).absolute()
    return target.with_name(f".{target.name}.wandb-frames")


def _write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_sibling_file(path)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, default=str, sort_keys=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@dataclass(frozen=True)
class DatasetPlan:
    """What a dataset holds: the request (compared on resume) and its batches of run IDs."""

    request: dict[str, Any]
    batches: list[list[str]]


@dataclass(frozen=True)
class BatchWriter:
    """Writes one batch's files and marker (picklable: Dask tasks carry it to the workers).

    Attributes:
        root: The dataset directory (shared by every worker: a common filesystem).
        partition_by: Hive columns, or ``()`` for one file per batch.
        provenance: Written into every file's metadata (plus the batch and its row count).
        row_group_size: Rows per row group.
        compression: Parquet codec (options: :func:`~wandb_frames.export.parquet_options`).
    """

    root: str
    partition_by: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    row_group_size: int = ROW_GROUP_SIZE
    compression: str = COMPRESSION

    @property
    def manifest(self) -> Path:
        return manifest_dir(self.root)

    def marker(self, batch: int) -> Path:
        """The marker file of ``batch``."""
        return self.manifest / "done" / f"{batch:05d}.json"

    def _meta(self, batch: int, runs: int, rows: int) -> dict[bytes, bytes]:
        record = {**self.provenance, "batch": batch, "batch_runs": runs, "row_count": rows}
        record.setdefault("wandb_frames_version", __version__)
        return {PROVENANCE_KEY: json.dumps(record, default=str, sort_keys=True).encode()}

    def write(self, batch: int, runs: int, tables: Iterable[pa.Table], schema: pa.Schema | None) -> dict[str, Any]:
        """Write ``tables`` (the batch's rows) and the batch's marker; return the marker.

        ``schema``: the schema of every table (histories), or None to take the first table's
        (a runs batch, one table).

        Raises:
            ExportError: A file could not be written.
        """
        root = Path(self.root)
        try:
            if self.partition_by:
                files, rows = self._write_hive(batch, runs, tables, schema)
            else:
                files, rows = self._write_file(batch, runs, tables, schema)
            entry = {"batch": batch, "runs": runs, "rows": rows, "files": files}
            _write_json(self.marker(batch), entry)
        except (OSError, pa.ArrowException) as exc:
            raise ExportError(f"could not write batch {batch} of {root}: {exc}") from exc
        return entry

    def _write_file(
        self, batch: int, runs: int, tables: Iterable[pa.Table], schema: pa.Schema | None
    ) -> tuple[list[str], int]:
        root = Path(self.root)
        schema = disk_schema(schema) if schema is not None else None
        name = f"part-{batch:05d}.parquet"
        fd, tmp = create_sibling_file(root / name)
        os.close(fd)
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for group in row_groups(tables, self.row_group_size):
                if writer is None:
                    schema = schema if schema is not None else disk_schema(group.schema)
                    writer = pq.ParquetWriter(tmp, schema, **parquet_options(schema, self.compression))
                writer.write_table(group if group.schema.equals(schema) else group.cast(schema),
                                   row_group_size=self.row_group_size)
                rows += group.num_rows
            if writer is None:
                if schema is None:
                    os.unlink(tmp)
                    return [], 0
                writer = pq.ParquetWriter(tmp, schema, **parquet_options(schema, self.compression))
            writer.add_key_value_metadata(self._meta(batch, runs, rows))
            writer.close()
            writer = None
            os.replace(tmp, root / name)
        finally:
            if writer is not None:
                writer.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
        return [name], rows

    def _write_hive(
        self, batch: int, runs: int, tables: Iterable[pa.Table], schema: pa.Schema | None
    ) -> tuple[list[str], int]:
        root = Path(self.root)
        parts = [t for t in tables if t.num_rows]
        if not parts:
            return [], 0
        table = to_disk(pa.concat_tables(parts) if schema is None else pa.concat_tables(
            [t if t.schema.equals(schema) else t.cast(schema) for t in parts]))
        missing = [c for c in self.partition_by if c not in table.column_names]
        if missing:
            raise ExportError(f"cannot partition by missing column(s) {missing}")
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), **self._meta(batch, runs, table.num_rows)})
        keys = pa.schema([table.schema.field(c) for c in self.partition_by])
        staging = create_sibling_dir(root / f"batch-{batch:05d}")
        try:
            ds.write_dataset(
                table, staging, format="parquet",
                partitioning=ds.partitioning(keys, flavor="hive"),
                basename_template=f"part-{batch:05d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                max_rows_per_group=self.row_group_size, min_rows_per_group=min(self.row_group_size, 1 << 16),
                file_options=ds.ParquetFileFormat().make_write_options(**parquet_options(table.schema, self.compression)),
            )
            files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*.parquet"))
            for rel in files:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, root / rel)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return files, table.num_rows


def _is_ours(root: Path) -> bool:
    return (manifest_dir(root) / "plan.json").is_file()


def open_dataset(
    root: str | os.PathLike[str],
    request: Mapping[str, Any],
    list_batches: Callable[[], list[list[str]]],
    *,
    resume: bool,
) -> tuple[DatasetPlan, set[int]]:
    """Start (or, with ``resume``, continue) a dataset at ``root``: its plan and the batches done.

    A fresh start lists the batches (``list_batches()``) and writes the plan before any data.
    Without ``resume``, an earlier dataset of ours at ``root`` is removed first.

    Raises:
        ExportError: ``root`` is a file, or a non-empty directory this library did not write.
        ConfigurationError: ``resume`` with a plan made for a different request.
    """
    target = Path(root)
    request = json.loads(json.dumps(dict(request), default=str, sort_keys=True))
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} is a file; a partitioned dataset needs a directory")
    if target.is_dir() and any(target.iterdir()) and not _is_ours(target):
        raise ExportError(f"{target} is a non-empty directory that is not a wandb-frames dataset")
    plan_file = manifest_dir(target) / "plan.json"
    if resume and plan_file.is_file():
        saved = json.loads(plan_file.read_text())
        if saved["request"] != request:
            changed = sorted(k for k in set(saved["request"]) | set(request)
                             if saved["request"].get(k) != request.get(k))
            raise ConfigurationError(
                f"cannot resume {target}: it was started for a different request (differs in "
                f"{changed}); write to another directory or resume=False to start over"
            )
        plan = DatasetPlan(saved["request"], saved["batches"])
        for stale in target.rglob(".*"):  # temp files and staging folders of a killed writer
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            elif stale.name.endswith(".tmp"):
                stale.unlink(missing_ok=True)
        done_dir = manifest_dir(target) / "done"
        done = {int(p.stem) for p in done_dir.glob("*.json")} if done_dir.is_dir() else set()
        return plan, done
    if _is_ours(target):
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(manifest_dir(target))
    target.mkdir(parents=True, exist_ok=True)
    plan = DatasetPlan(dict(request), list_batches())
    _write_json(plan_file, {"request": plan.request, "batches": plan.batches})
    return plan, set()


def run_batches(
    task: Callable[[int, Sequence[str]], dict[str, Any]],
    plan: DatasetPlan,
    done: set[int],
    *,
    use_dask: bool,
) -> list[dict[str, Any]]:
    """Run ``task(batch, ids)`` for every batch not done: in order here, or as Dask tasks.

    With ``use_dask``, the tasks run on Dask's current scheduler (a ``distributed.Client``
    when one is active); each writes its own files, so the workers need the dataset's
    filesystem.
    """
    todo = [i for i in range(len(plan.batches)) if i not in done]
    if not use_dask:
        return [task(i, plan.batches[i]) for i in todo]
    import dask

    delayed = [dask.delayed(task, pure=False, name=f"wandb-frames-export-{i:05d}")(i, plan.batches[i])
               for i in todo]
    return list(dask.compute(*delayed))


def finish_dataset(root: str | os.PathLike[str], plan: DatasetPlan, *, unify_sep: str | None) -> dict[str, Any]:
    """Mark a dataset complete; with ``unify_sep``, first give every file one schema.

    Runs batches are assembled apart (each with its own columns and kinds); with
    ``unify_sep`` every file whose schema differs from their union
    (:func:`~wandb_frames.tabular.unify.unify_schemas`, the same rule as one ``to_arrow()``)
    is rewritten conformed to it, atomically, so any reader sees one schema.

    Returns:
        The completion record (batches, files, rows).
    """
    target = Path(root)
    entries = [json.loads((manifest_dir(target) / "done" / f"{i:05d}.json").read_text())
               for i in range(len(plan.batches))]
    files = [f for entry in entries for f in entry["files"]]
    if unify_sep is not None and files:
        schemas = {f: pq.read_schema(target / f) for f in files}
        unified = unify_schemas(schemas.values(), sep=unify_sep)
        wanted = _kinds(unified)
        for name, schema in schemas.items():
            if _kinds(schema) != wanted:  # (parquet names list items "element": compare kinds)
                _rewrite(target / name, unified)
    record = {"batches": len(entries), "files": len(files), "rows": sum(e["rows"] for e in entries)}
    _write_json(manifest_dir(target) / "complete.json", record)
    return record


def _kinds(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, field_kind(f)) for f in schema]


def _rewrite(path: Path, schema: pa.Schema) -> None:
    table = pq.ParquetFile(path).read()
    metadata = table.schema.metadata or {}
    conformed = conform_table(table.replace_schema_metadata(None), schema)
    conformed = to_disk(conformed.replace_schema_metadata(metadata))
    fd, tmp = create_sibling_file(path)
    os.close(fd)
    try:
        pq.write_table(conformed, tmp, row_group_size=ROW_GROUP_SIZE, **parquet_options(conformed.schema))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_complete(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` has ``complete.json`` (every batch written)."""
    return (manifest_dir(root) / "complete.json").is_file()
