"""Parquet files with provenance: atomic writes, partitioned datasets, filtered reads.

Provenance (where the rows came from) is stored as JSON under the schema metadata key
``wandb_frames.provenance``: server URL, entity/project, filters and order as sent, fetch
time, wandb-frames version, row count. It never holds the API key: ``provenance()``
refuses keys that look like secrets.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from wandb_frames.version import __version__
from wandb_frames.errors import ConfigurationError, ExportError

__all__ = [
    "COMPRESSION",
    "PROVENANCE_KEY",
    "ROW_GROUP_SIZE",
    "create_sibling_dir",
    "create_sibling_file",
    "disk_schema",
    "from_disk",
    "memory_schema",
    "parquet_options",
    "provenance",
    "read_parquet",
    "read_provenance",
    "row_groups",
    "to_disk",
    "write_parquet",
    "write_parquet_stream",
]

PROVENANCE_KEY = b"wandb_frames.provenance"
ROW_GROUP_SIZE = 1 << 20
"""Rows per row group of streamed files and datasets (~1M): a few large groups, not one per run."""
COMPRESSION = "lz4"
"""Codec of written files (parquet's ``LZ4_RAW``). The float columns (``value``, ``_timestamp``,
``_runtime``, summaries) dominate a history and barely compress; zstd spent most of a reader's
CPU time decoding them, LZ4 decodes several times faster. With the float columns not
dictionary-encoded (:func:`parquet_options`), files are about as large as the zstd files with
dictionary-encoded floats were (``docs/benchmarks.md`` §10)."""
POLARS_CATEGORICAL = {b"_PL_CATEGORICAL2": b"0;0;u32;"}
"""Arrow field metadata polars writes for its own ``pl.Categorical`` (name, namespace, ``u32``).
On a ``dictionary<uint32, string>`` column, polars reads the parquet dictionary pages straight
into categories; on any other dictionary column it decodes every row to a string and hashes it
back into a Categorical, which cost a ``group_by("metric")`` half its time (``docs/benchmarks.md``
§10e). pyarrow, pandas (``category``), Dask and DuckDB read the column as before."""
_SECRET_WORDS = ("api_key", "apikey", "password", "token", "secret", "authorization")


def provenance(**fields: Any) -> dict[str, Any]:
    """Build a provenance record: the given fields plus version and fetch time.

    Raises:
        ConfigurationError: a field name looks like a secret (the key must never be stored).
    """
    for name in fields:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ConfigurationError(f"refusing to store {name!r} in file metadata")
    record: dict[str, Any] = {
        "wandb_frames_version": __version__,
        "fetched_at": datetime.now(UTC).isoformat(),
    }
    record.update(fields)
    if isinstance(record.get("server"), str):
        record["server"] = _without_credentials(record["server"])
    return record


def parquet_options(schema: pa.Schema, compression: str = COMPRESSION) -> dict[str, Any]:
    """Writer options (``pq.ParquetWriter``, ``pq.write_table``, dataset write options) for ``schema``.

    Dictionary encoding for every column but floating-point ones: run IDs, steps, metric
    names, states, tags repeat and shrink to small indices; a float column (metric values,
    timestamps) has nearly as many distinct values as rows, so a dictionary only fills up
    (1 MiB per column chunk), is thrown away and the chunk goes on in plain encoding, which
    costs writers and readers time for no space. A schema with nested columns keeps dictionary
    encoding everywhere (the option names leaf columns).
    """
    if any(pa.types.is_nested(f.type) for f in schema):
        return {"compression": compression, "use_dictionary": True}
    return {"compression": compression,
            "use_dictionary": [f.name for f in schema if not pa.types.is_floating(f.type)]}


def _is_text_dictionary(t: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(t)) and bool(pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type))


def disk_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as written to parquet: dictionary-of-text columns as polars reads them fastest.

    Each top-level ``dictionary<int*, string>`` column (a history's ``metric``) becomes
    ``dictionary<uint32, string>`` with :data:`POLARS_CATEGORICAL` in its field metadata; other
    columns and the schema metadata are unchanged. Idempotent; :func:`memory_schema` undoes it.
    """
    def pending(f: pa.Field) -> bool:
        meta = f.metadata or {}
        return _is_text_dictionary(f.type) and not (
            f.type.index_type == pa.uint32() and all(meta.get(k) == v for k, v in POLARS_CATEGORICAL.items()))

    if not any(pending(f) for f in schema):
        return schema
    fields = [
        f.with_type(pa.dictionary(pa.uint32(), f.type.value_type, f.type.ordered))
        .with_metadata({**(f.metadata or {}), **POLARS_CATEGORICAL})
        if pending(f) else f
        for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def memory_schema(schema: pa.Schema) -> pa.Schema:
    """The in-memory schema of a file written with :func:`disk_schema` (pyarrow's own types).

    Columns marked with :data:`POLARS_CATEGORICAL` become ``dictionary<int32, …>`` (what
    ``to_arrow()`` gives and pyarrow builds by default) without the marker; the rest is unchanged.
    """
    def marked(f: pa.Field) -> bool:
        meta = f.metadata or {}
        return _is_text_dictionary(f.type) and all(meta.get(k) == v for k, v in POLARS_CATEGORICAL.items())

    def plain(f: pa.Field) -> pa.Field:
        meta = {k: v for k, v in (f.metadata or {}).items() if k not in POLARS_CATEGORICAL}
        typed = f.with_type(pa.dictionary(pa.int32(), f.type.value_type, f.type.ordered))
        return typed.with_metadata(meta) if meta else typed.remove_metadata()

    if not any(marked(f) for f in schema):
        return schema
    return pa.schema([plain(f) if marked(f) else f for f in schema], metadata=schema.metadata)


def to_disk(table: pa.Table) -> pa.Table:
    """``table`` cast to :func:`disk_schema` (no copy when nothing changes)."""
    schema = table.schema
    wanted = disk_schema(schema)
    return table if wanted is schema else table.cast(wanted)


def from_disk(table: pa.Table) -> pa.Table:
    """A table read from one of our files, cast back to :func:`memory_schema`."""
    schema = table.schema
    wanted = memory_schema(schema)
    return table if wanted is schema else table.cast(wanted)


def _without_credentials(url: str) -> str:
    """``url`` without user info, query or fragment (a base URL may carry a secret there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _with_provenance(table: pa.Table, meta: Mapping[str, Any] | None) -> pa.Table:
    existing = dict(table.schema.metadata or {})
    record = dict(meta) if meta is not None else {}
    if PROVENANCE_KEY in existing and not record:
        return table
    record.setdefault("wandb_frames_version", __version__)
    record["row_count"] = table.num_rows
    existing[PROVENANCE_KEY] = json.dumps(record, default=str, sort_keys=True).encode()
    return table.replace_schema_metadata(existing)


def write_parquet(
    table: pa.Table,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    partition_by: list[str] | None = None,
    compression: str = COMPRESSION,
    checksum: bool = False,
) -> Path:
    """Write ``table`` to ``path`` atomically (temp file + rename), with provenance.

    The file's mode is that of any new file (the umask applies), or the replaced file's.

    With ``partition_by``, ``path`` is a directory of Hive-style partitions
    (``project=x/part-0.parquet``) that DuckDB, polars and Spark scan lazily; the
    directory is built beside the target and renamed into place. ``checksum`` writes a
    CRC per data page (verified by ``pq.read_table(..., page_checksum_verification=True)``).

    Raises:
        ExportError: the file or directory could not be written.
    """
    target = Path(path)
    table = to_disk(_with_provenance(table, metadata))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if partition_by:
            missing = [c for c in partition_by if c not in table.column_names]
            if missing:
                raise ExportError(f"cannot partition by missing column(s) {missing}")
            staging = create_sibling_dir(target)
            try:
                ds.write_dataset(
                    table,
                    staging,
                    format="parquet",
                    partitioning=partition_by,
                    partitioning_flavor="hive",
                    existing_data_behavior="overwrite_or_ignore",
                    file_options=ds.ParquetFileFormat().make_write_options(**parquet_options(table.schema, compression)),
                )
                _replace_dir(staging, target)
            finally:
                if staging.exists():
                    _remove_tree(staging)
            return target
        fd, tmp_name = create_sibling_file(target)
        os.close(fd)
        try:
            pq.write_table(table, tmp_name, row_group_size=ROW_GROUP_SIZE, write_page_checksum=checksum,
                           **parquet_options(table.schema, compression))
            os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"could not write {target}: {exc}") from exc
    return target


def write_parquet_stream(
    tables: Iterable[pa.Table],
    schema: pa.Schema,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    compression: str = COMPRESSION,
    row_group_size: int = ROW_GROUP_SIZE,
) -> Path:
    """Write tables one after another into one parquet file, atomically, with provenance.

    The tables (e.g. one per run) are re-cut into row groups of ``row_group_size`` rows
    (:func:`row_groups`), not one row group each: readers scan a few large groups. Memory
    stays bounded by one row group and one incoming table; the file appears under ``path``
    only once complete (a failure part-way leaves any previous file untouched).

    Raises:
        ExportError: the file could not be written, or a table does not fit ``schema``.
    """
    target = Path(path)
    disk = disk_schema(schema)
    record = dict(metadata) if metadata is not None else {}
    record.setdefault("wandb_frames_version", __version__)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = create_sibling_file(target)
        os.close(fd)
        try:
            rows = 0
            with pq.ParquetWriter(tmp_name, disk, **parquet_options(disk, compression)) as writer:
                fitted = (t if t.schema.equals(schema) else _fit(t, schema) for t in tables)
                for group in row_groups(fitted, row_group_size):  # one cast per row group, not per table
                    writer.write_table(group if disk is schema else group.cast(disk), row_group_size=row_group_size)
                    rows += group.num_rows
                record["row_count"] = rows
                writer.add_key_value_metadata(
                    {PROVENANCE_KEY: json.dumps(record, default=str, sort_keys=True).encode()}
                )
            os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"could not write {target}: {exc}") from exc
    return target


def _sibling(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")


def _mode_of(target: Path, *, directory: bool) -> int | None:
    try:
        found = target.stat()
    except OSError:
        return None
    same_kind = stat.S_ISDIR(found.st_mode) if directory else stat.S_ISREG(found.st_mode)
    return stat.S_IMODE(found.st_mode) if same_kind else None


def create_sibling_file(target: str | os.PathLike[str], suffix: str = ".tmp") -> tuple[int, Path]:
    """Create an empty file beside ``target`` to write and then rename onto it (atomic write).

    Unlike ``tempfile.mkstemp`` (always 0600), the file gets the mode any new file gets:
    0666 less the umask (0644 under umask 022, 0640 under 027); when ``target`` exists, its
    mode instead, as rewriting it in place would keep.

    Returns:
        The open (write-only) descriptor and the path; the caller closes, renames or removes it.

    Raises:
        OSError: the directory is not writable.
    """
    target = Path(target)
    while True:
        path = _sibling(target, suffix)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        mode = _mode_of(target, directory=False)
        if mode is not None:
            os.chmod(path, mode)
        return fd, path


def create_sibling_dir(target: str | os.PathLike[str]) -> Path:
    """Create an empty directory beside ``target`` to fill and rename onto it.

    Its mode is what ``mkdir`` gives (0777 less the umask; ``tempfile.mkdtemp`` gives 0700),
    or an existing ``target`` directory's mode.
    """
    target = Path(target)
    while True:
        path = _sibling(target, "")
        try:
            path.mkdir(0o777)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        mode = _mode_of(target, directory=True)
        if mode is not None:
            os.chmod(path, mode)
        return path


def row_groups(tables: Iterable[pa.Table], size: int = ROW_GROUP_SIZE) -> Iterator[pa.Table]:
    """Re-cut a stream of tables (e.g. one per run) into tables of ``size`` rows (the last smaller).

    Memory holds at most ``size`` rows plus one incoming table. The groups stay chunked (the
    incoming tables' chunks, no copy): the parquet writer takes chunked columns as they are, and
    combining them first (a copy, and one dictionary unified from every run's ``metric``
    dictionary) cost twice what writing does (1.9 s of CPU against 1.0 s for 14 M history rows).
    """
    buffered: list[pa.Table] = []
    rows = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        buffered.append(table)
        rows += table.num_rows
        while rows >= size:
            whole = pa.concat_tables(buffered)
            yield whole.slice(0, size)
            rest = whole.slice(size)
            buffered, rows = ([rest] if rest.num_rows else []), rest.num_rows
    if buffered:
        yield pa.concat_tables(buffered)


def _fit(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``; a table that does not fit raises ``ExportError``."""
    try:
        return table.cast(schema)
    except (ValueError, pa.ArrowException) as exc:  # ValueError: different column names
        raise ExportError(f"a table does not fit the file's schema: {exc}") from exc


def _replace_dir(staging: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.is_dir():  # left behind by a crash between the renames below
            _remove_tree(old)
        os.replace(target, old)
        os.replace(staging, target)
        _remove_tree(old)
    else:
        os.replace(staging, target)


def _remove_tree(root: Path) -> None:
    for child in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    root.rmdir()


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record of a file written by :func:`write_parquet` (``{}`` if none)."""
    target = Path(path)
    if target.is_dir():
        raw = (ds.dataset(target, format="parquet", partitioning="hive").schema.metadata or {}).get(
            PROVENANCE_KEY
        )
    else:
        raw = (pq.read_metadata(target).metadata or {}).get(PROVENANCE_KEY)
    return dict(json.loads(raw)) if raw else {}


def read_parquet(
    path: str | os.PathLike[str],
    filters: Any = None,
    *,
    columns: list[str] | None = None,
) -> pa.Table:
    """Read a runs (or history) parquet file or partitioned directory, applying a filter.

    The filter is the same Mongo-style language (or Python expression) as ``api.runs``:
    the part expressible as an Arrow expression is pushed into the parquet scan, the
    rest is evaluated on the rows read.

    The table keeps the file's exact values (NaN apart from null) and the types ``to_arrow()``
    gives (a history's ``metric`` is ``dictionary<int32, string>`` again, :func:`memory_schema`). Its JSON-text columns are
    also named in pyarrow's pandas metadata, so ``read_parquet(...).to_pandas()`` sets
    ``df.attrs["wandb_frames"]["json_columns"]`` and ``df.wb.where`` decodes them;
    ``wandb_frames.tabular.table_to_pandas(table)`` gives the frame ``Runs.to_pandas()`` gives.
    """
    from wandb_frames.filters import apply, parse_filter, to_arrow_expression
    from wandb_frames.tabular.dataframes import with_pandas_attrs

    target = Path(path)
    if not target.exists():
        raise ExportError(f"no such parquet file or directory: {target}")
    parsed = parse_filter(filters)
    partitioning = "hive" if target.is_dir() else None
    dataset = ds.dataset(target, format="parquet", partitioning=partitioning)
    found = dataset.schema
    schema = memory_schema(found)
    if schema is not found:  # scanned straight into pyarrow's own dictionary type, no cast after
        dataset = ds.dataset(target, schema=schema, format="parquet", partitioning=partitioning)
    pushdown = to_arrow_expression(parsed, dataset.schema) if parsed is not None else None
    table = dataset.to_table(filter=pushdown) if pushdown is not None else dataset.to_table()
    if parsed is not None:
        table = apply(table, parsed)
    if columns is not None:
        table = table.select(columns)
    return with_pandas_attrs(table)
