"""``local_runs``: a folder of offline W&B runs as the same frames as the HTTP client.

The runs table goes through the same :mod:`wandb_frames.tabular` assembly and the same
:mod:`wandb_frames.filters` compiler (evaluated locally on Arrow), and histories through the
same :mod:`wandb_frames.history` long format, so a folder read here and the same folder
served over HTTP give identical frames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from wandb_frames.offline.folders import scan_run_dir
from wandb_frames.offline.reader import OfflineRun
from wandb_frames.testing.records import RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from wandb_frames.tabular import DtypeBackend

__all__ = ["LocalRuns", "add_offline_runs", "local_runs", "record_to_decoded_run"]

_CONFIG_INTERNAL = ("_wandb", "wandb_version")


def _duration(record: RunRecord) -> float:
    value = record.get("summary", {}).get("_runtime")
    if not isinstance(value, int | float) or isinstance(value, bool):
        history = record.get("history") or []
        value = history[-1].get("_runtime", 0.0) if history else 0.0
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        value = 0.0
    if not value:
        created, beat = record.get("created_at"), record.get("heartbeat_at")
        if isinstance(created, datetime) and isinstance(beat, datetime):
            value = max((beat - created).total_seconds(), 0.0)
    return float(value)


def record_to_decoded_run(
    record: RunRecord, *, entity: str, project: str, user: str | None = None
) -> dict[str, Any]:
    """Convert a run record into the decoded-run dict that :func:`tabular.runs_to_table` takes.

    Args:
        record: a run record (e.g. from :func:`read_run_file`).
        entity: the entity column value.
        project: the project column value.
        user: the ``user`` column value (offline runs do not know it).

    Returns:
        Run columns in ``RUN_COLUMNS`` order, then ``config`` (without ``_wandb``),
        ``config_internal``, ``summary`` and ``system``.
    """
    config = dict(record.get("config", {}))
    internal = {k: config.pop(k) for k in _CONFIG_INTERNAL if k in config}
    created = record.get("created_at")
    return {
        "id": record["id"],
        "name": record.get("display_name", record["id"]),
        "entity": entity,
        "project": project,
        "state": record.get("state", "finished"),
        "created_at": created,
        "heartbeat_at": record.get("heartbeat_at", created),
        "duration": _duration(record),
        "tags": list(record.get("tags") or []),
        "group": record.get("group"),
        "job_type": record.get("job_type"),
        "sweep": record.get("sweep"),
        "user": record.get("user", user),
        "host": record.get("host"),
        "notes": record.get("notes"),
        "commit": record.get("commit"),
        "config": config,
        "config_internal": internal,
        "summary": dict(record.get("summary", {})),
        "system": dict(record.get("system_metrics", {})),
    }


class LocalRuns:
    """Offline runs read from disk, with the ``Runs`` frame methods.

    Use :func:`local_runs` to make one. Iterating yields the run records (after filter and
    order); ``len()`` counts them.
    """

    def __init__(self, runs: Sequence[OfflineRun], *, filters: Any = None, order: Any = "+created_at",
                 entity: str | None = None, sep: str = ".", include_files: bool = False,
                 running_window: float = 300.0) -> None:
        from wandb_frames import filters as flt

        self.include_files = include_files
        self.running_window = running_window
        self._entity = entity
        self._sep = sep
        self._all = list(runs)
        parsed = flt.parse_filter(filters) if filters is not None else None
        parsed_order = flt.parse_order(order) if order else None
        # Filter and order on the full table (only its columns decide), then keep the runs
        # whose ids survive, in that order. Filter keys name "."-separated columns, so the
        # table they are evaluated on is flattened with "." whatever ``sep`` is.
        table = self._table_of(self._all, ".")
        table = table.append_column("__pos", pa.array(range(table.num_rows), pa.int64()))
        if parsed is not None:
            table = flt.apply(table, parsed)
        if parsed_order is not None:
            table = flt.sort_table(table, parsed_order)
        positions = table.column("__pos").to_pylist()
        self._runs = [self._all[i] for i in positions]
        if sep == ".":
            self._table = table.drop_columns(["__pos"])
        else:
            self._table = self._table_of(self._all, sep).take(pa.array(positions, pa.int64()))

    def _table_of(self, runs: Sequence[OfflineRun], sep: str) -> pa.Table:
        from wandb_frames import tabular

        decoded = (
            record_to_decoded_run(r.record, entity=self._entity or r.entity or "offline", project=r.project)
            for r in runs
        )
        return tabular.runs_to_table(decoded, sep=sep)

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[RunRecord]:
        return (r.record for r in self._runs)

    def __repr__(self) -> str:
        return f"<LocalRuns {len(self._runs)} runs>"

    @property
    def runs(self) -> list[OfflineRun]:
        """The selected runs with their file paths, entity and project."""
        return list(self._runs)

    def to_arrow(self) -> pa.Table:
        """The runs frame as a ``pa.Table`` (one row per run; see ``docs/frames.md``)."""
        return self._table

    def to_pandas(self, *, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
        """The runs frame as a ``pd.DataFrame``, as ``Runs.to_pandas`` gives it (``docs/frames.md``)."""
        from wandb_frames.tabular import table_to_pandas

        return table_to_pandas(self._table, dtype_backend=dtype_backend)

    def to_dask(self, kind: Literal["runs", "history"] = "runs", *, batch_size: int = 100,
                keys: Sequence[str] | None = None, stream: str = "default",
                dtype_backend: DtypeBackend = "pyarrow") -> Any:
        """The runs frame (``kind="runs"``) or the long histories as a lazy Dask DataFrame.

        One partition per batch of ``batch_size`` runs (in this object's order); each worker
        decodes its own ``.wandb`` files (they must be on a filesystem it can read), with the
        filter already applied here. Runs meta: :meth:`to_arrow`'s schema; history meta:
        ``history.LONG_SCHEMA``; converted as ``to_pandas(dtype_backend=dtype_backend)``.
        """
        import time

        from wandb_frames.offline.partitions import local_runs_to_dask

        return local_runs_to_dask(self, kind=kind, batch_size=batch_size, keys=keys, stream=stream,
                                  now=time.time(), dtype_backend=dtype_backend)

    def histories(self, keys: Sequence[str] | None = None, *, stream: str = "default") -> pa.Table:
        """Every run's full history in the long format (``run_id, _step, metric, value, _timestamp, _runtime``).

        Args:
            keys: keep only these metrics (default: all numeric metrics).
            stream: ``"default"`` (logged metrics, last write wins per step) or ``"system"``
                (system metrics, ``_step`` null, every sample kept).

        Returns:
            A ``pa.Table`` in ``history.LONG_SCHEMA``; non-numeric values are left out.
        """
        from wandb_frames.errors import ConfigurationError
        from wandb_frames.history import LONG_SCHEMA
        from wandb_frames.history.fetch import check_keys
        from wandb_frames.history.frames import wide_to_long
        from wandb_frames.offline.columns import history_wide

        check_keys(keys)
        if stream not in ("default", "system"):
            raise ConfigurationError(f"stream must be 'default' or 'system' (got {stream!r})")
        system = stream == "system"
        parts: list[pa.Table] = []
        for run in self._runs:
            rows = run.record.get("system_history" if system else "history") or []
            if not rows:
                continue
            wide = history_wide(rows)
            part = wide_to_long(wide, run_id=run.record["id"], keys=keys, dedup=not system)
            parts.append(part.table.select(LONG_SCHEMA.names))
        if not parts:
            return LONG_SCHEMA.empty_table()
        return pa.concat_tables(parts, promote_options="permissive").cast(LONG_SCHEMA)


def local_runs(
    root: str | os.PathLike[str],
    filters: Any = None,
    order: str | None = "+created_at",
    *,
    entity: str | None = None,
    project: str | None = None,
    sep: str = ".",
    include_files: bool = False,
    running_window: float = 300.0,
    workers: int | None = None,
) -> LocalRuns:
    """Offline runs under ``root`` (a ``wandb/`` folder) as a :class:`LocalRuns`.

    Args:
        root: the ``wandb`` folder (or its parent, one run folder, or one ``.wandb`` file).
        filters: a W&B Mongo-style filter or expression string, evaluated locally.
        order: ``"+key"``/``"-key"`` (default ``"+created_at"``); None keeps file order.
        entity: the ``entity`` column (default: the run's own entity, else ``"offline"``).
        project: keep only runs of this project.
        sep: separator for flattened column names.
        include_files: attach each run's ``files/`` contents to its record.
        running_window: see :func:`read_run_file`.
        workers: decode the files in this many processes (1: in this thread; default: one
            per CPU for folders big enough to pay for starting them). Same result whatever
            the number (see :func:`scan_run_dir`).

    Returns:
        The selected runs.

    Raises:
        ConfigurationError: ``root`` does not exist, ``wandb`` is not installed, or
            ``workers`` is not a positive integer.
        FilterSyntaxError: the filter or order is malformed.

    Examples:
        >>> runs = local_runs("./wandb", filters={"state": "finished"})  # doctest: +SKIP
        >>> df = runs.to_pandas()  # doctest: +SKIP
    """
    from wandb_frames import filters as flt

    # A malformed filter or order fails before any file is read.
    parsed = flt.parse_filter(filters) if filters is not None else None
    parsed_order = flt.parse_order(order) if order else None
    runs = scan_run_dir(root, include_files=include_files, running_window=running_window, workers=workers)
    if project is not None:
        runs = [r for r in runs if r.project == project]
    return LocalRuns(runs, filters=parsed, order=parsed_order, entity=entity, sep=sep,
                     include_files=include_files, running_window=running_window)


def add_offline_runs(server: Any, root: str | os.PathLike[str], *, entity: str | None = None,
                     include_files: bool = True, running_window: float = 300.0,
                     workers: int | None = None) -> dict[tuple[str, str], int]:
    """Seed a :class:`~wandb_frames.testing.LocalServer` with the offline runs under ``root``.

    Runs are grouped by the project they were started in; ``entity`` overrides the runs'
    own entity (default: theirs, else ``"offline"``); ``running_window`` as in
    :func:`read_run_file`; ``workers`` as in :func:`local_runs`.

    Returns:
        ``{(entity, project): number of runs}``.
    """
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for run in scan_run_dir(root, include_files=include_files, running_window=running_window, workers=workers):
        key = (entity or run.entity or "offline", run.project)
        groups.setdefault(key, []).append(run.record)
    for (ent, proj), records in groups.items():
        server.add_runs(ent, proj, records)
    return {k: len(v) for k, v in groups.items()}

