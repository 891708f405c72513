"""The history methods of :class:`~wandb_frames.resources.run.Run`.

``history()`` called as ``wandb`` 0.31.0 calls it (no ``format=``) sends wandb's requests
(``RunFullHistory`` / ``RunFullEvents`` / ``RunSampledHistory``: the server samples) and
returns what wandb returns: a list of row dicts, or ``pandas.DataFrame.from_records`` of
them. The typed, complete histories are ``history(format="wide"|"long")``,
:meth:`RunHistory.history_table` and ``Runs.history_frames()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from wandb_frames import history as run_history
from wandb_frames.cache.histories import history_cache_wrap, history_token, run_tokens
from wandb_frames.distributed.connection import Connection
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.graphql.documents import DOCUMENTS, Document
from wandb_frames.graphql.snapshot import listed_run_ids
from wandb_frames.history.batches import SAMPLED_BATCH, BatchPrefetch, LimitedExecutor, sampled_batch
from wandb_frames.resources.typos import check_history_keys, warn_unknown_keys
from wandb_frames.tabular import loads_wandb_json, table_to_pandas

if TYPE_CHECKING:
    import pandas as pd

    from wandb_frames.graphql.listing import ListingQuery
    from wandb_frames.graphql.plan import QueryPlan
    from wandb_frames.resources.session import ApiSession

__all__ = ["RunHistory", "RunsHistoryFrames", "wandb_histories"]

_FULL_HISTORY = DOCUMENTS["run_full_history.graphql"]
_FULL_EVENTS = DOCUMENTS["run_full_events.graphql"]
_SAMPLED_HISTORY = DOCUMENTS["run_sampled_history.graphql"]
_HISTORY_KEYS = DOCUMENTS["run_history_keys.graphql"]


class RunHistory:
    """History access shared by every :class:`Run` (a mixin: needs ``_api``, ``entity``, …)."""

    _api: ApiSession

    @property
    def entity(self) -> str:  # provided by Run
        raise NotImplementedError

    @property
    def project(self) -> str:  # provided by Run
        raise NotImplementedError

    @property
    def id(self) -> str:  # provided by Run
        raise NotImplementedError

    @property
    def state(self) -> str | None:  # provided by Run
        raise NotImplementedError

    def _heartbeat_datetime(self) -> datetime | None:  # provided by Run
        raise NotImplementedError

    def _run_node(self, document: Document, **variables: Any) -> dict[str, Any]:
        """The ``run`` node of an operation taking ``entity, project, name`` (+ ``variables``)."""
        where = f"{self.entity}/{self.project}/{self.id}"
        data = self._api.execute(
            document, {"entity": self.entity, "project": self.project, "name": self.id, **variables}
        )
        node = (data.get("project") or {}).get("run")
        if node is None:
            raise NotFoundError(f"run {where} not found", operation=document.operation, what=f"run {where}")
        return dict(node)

    # -- wandb's sampled history ----------------------------------------------------------
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
        *,
        format: Literal["wide", "long"] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> list[dict[str, Any]] | pd.DataFrame:
        """Sampled history rows, exactly as ``wandb``'s ``Run.history`` (same signature and answer).

        Without ``format``: at most ``samples`` rows chosen by the server; with ``keys``, only
        rows holding every key (``x_axis`` included); ``stream="system"`` (or ``"events"``)
        reads the system-metrics stream. Returns a ``pandas.DataFrame`` built from the rows,
        or the list of row dicts with ``pandas=False``.

        With ``format="wide"`` or ``"long"`` (wandb-frames): the typed history from the
        run's full export instead, as an Arrow-backed frame (``wide``: one column per
        metric, outer-joined by ``x_axis``); ``samples`` is then a deterministic min/max
        downsampling per metric (``None``: every row), ``keys`` selects rows holding *any*
        key, and ``min_step``/``max_step`` bound the steps.

        Raises:
            ConfigurationError: Bad arguments (before any request).
        """
        if keys is not None and not isinstance(keys, list):
            raise ConfigurationError(f"keys must be a list of metric names, got {keys!r}")
        if keys and not all(isinstance(k, str) for k in keys):
            raise ConfigurationError("keys must be a list of strings")
        if format is not None:
            return self._typed_history(samples, keys, x_axis, stream, format, min_step, max_step)
        if min_step is not None or max_step is not None:
            raise ConfigurationError("min_step/max_step need format='wide' or 'long' (wandb's history has no range)")
        if keys and stream != "default":
            raise ConfigurationError("stream must be 'default' when keys are given (as in wandb)")
        lines: list[dict[str, Any]]
        if keys:
            spec = json.dumps({"keys": [x_axis, *keys], "samples": samples})
            node = self._run_node(_SAMPLED_HISTORY, specs=[spec])
            answers = node.get("sampledHistory") or [[]]
            lines = [dict(row) for row in (answers[0] or [])]
            if not lines:
                check_history_keys(keys, (), self._history_key_names, f"the history of run {self.id}")
        else:
            document, field = (_FULL_HISTORY, "history") if stream == "default" else (_FULL_EVENTS, "events")
            node = self._run_node(document, samples=samples)
            lines = [json.loads(line) for line in node.get(field) or []]
        if not pandas:
            return lines
        import pandas as pd

        return pd.DataFrame.from_records(lines)

    def _typed_history(
        self, samples: int | None, keys: Sequence[str] | None, x_axis: str, stream: str,
        format: str, min_step: int | None, max_step: int | None,
    ) -> pd.DataFrame:
        if x_axis not in ("_step", "_timestamp"):
            raise ConfigurationError(f"x_axis must be '_step' or '_timestamp', got {x_axis!r}")
        if format not in ("wide", "long"):
            raise ConfigurationError(f"format must be 'wide' or 'long', got {format!r}")
        typed_stream: run_history.Stream = "default" if stream == "default" else "system"
        long = self.history_table(keys, samples, stream=typed_stream, min_step=min_step, max_step=max_step)
        if format == "long":
            return table_to_pandas(long)
        index = "_timestamp" if typed_stream == "system" else x_axis
        return table_to_pandas(run_history.long_to_wide(long, index=index))

    # -- wandb-frames' typed history --------------------------------------------------------
    def history_table(
        self,
        keys: Sequence[str] | None = None,
        samples: int | None = None,
        *,
        stream: run_history.Stream = "default",
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> pa.Table:
        """The run's history in long form: ``run_id, _step, metric, value, _timestamp, _runtime``.

        Args:
            keys: Only these metrics (rows holding *any* of them; never W&B's all-keys rule).
            samples: None for every row; a number for a deterministic min/max-bucket
                downsampling to at most that many points per metric.
            stream: ``"default"`` (training metrics) or ``"system"`` (CPU/GPU/memory).
            min_step: First step, inclusive.
            max_step: Last step, exclusive.

        Raises:
            ConfigurationError: Bad arguments (before any request).
        """
        if isinstance(keys, str):
            raise ConfigurationError(f"keys must be a list of metric names, got the string {keys!r}")
        if samples is not None and samples < 2:
            raise ConfigurationError(f"samples must be at least 2 (got {samples}); None means all")

        def fetch_one(run_id: str) -> run_history.LongPart:
            return run_history.fetch_run_long(
                self._api, run_history.parquet_getter(self._api), entity=self.entity, project=self.project,
                run_id=run_id, keys=list(keys) if keys is not None else None,
                min_step=min_step, max_step=max_step, stream=stream,
            )

        # With Api(cache=...), a finished run's history is kept on disk (docs/cache.md).
        wrap = history_cache_wrap(
            self._api, self.entity, self.project,
            lambda: {self.id: history_token(self.state, self._heartbeat_datetime())},
            stream=stream, keys=keys, min_step=min_step, max_step=max_step,
        )
        table = (fetch_one if wrap is None else wrap(fetch_one))(self.id).table
        if keys:
            seen = table.column("metric").unique().to_pylist() if table.num_rows else []
            check_history_keys(keys, seen, self._history_key_names, f"the history of run {self.id}")
        if samples is not None:
            table = run_history.downsample_long(table, samples)
        return table

    def system_metrics_history(self, samples: int | None = None) -> pd.DataFrame:
        """System metrics (CPU, GPU, memory, …) by ``_timestamp``, one column per metric (typed)."""
        return self._typed_history(samples, None, "_timestamp", "system", "wide", None, None)

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int = 0,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Iterate over every history row as a dict, in step order (as ``wandb``'s ``scan_history``).

        With ``keys``, each row is projected to ``_step`` plus those keys (``None`` where a
        row lacks one), as wandb 0.31.0 does. ``use_cache`` is accepted for ``wandb`` parity
        (histories are cached by ``Api(cache=...)`` instead). For analysis prefer
        ``history(format="wide")`` or :meth:`history_table`, which read the same data
        straight into Arrow.
        """
        if isinstance(keys, str):
            raise ConfigurationError(f"keys must be a list of metric names, got the string {keys!r}")
        return run_history.scan_history_rows(
            self._api, run_history.parquet_getter(self._api), entity=self.entity, project=self.project,
            run_id=self.id, keys=list(keys) if keys is not None else None,
            page_size=page_size, min_step=min_step, max_step=max_step,
        )

    def beta_scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int = 0,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """``wandb``'s parquet-based scan: the same rows as :meth:`scan_history`."""
        return self.scan_history(keys, page_size, min_step, max_step, use_cache)

    def _history_key_names(self) -> list[str]:
        keys = self.history_keys.get("keys")
        return list(keys) if isinstance(keys, Mapping) else []

    @property
    def history_keys(self) -> dict[str, Any]:
        """The run's ``historyKeys`` JSON (``{"keys": {...}, "lastStep": N}``; one request)."""
        value = self._run_node(_HISTORY_KEYS).get("historyKeys")
        if isinstance(value, str):
            value = loads_wandb_json(value)
        return value if isinstance(value, dict) else {}

    @property
    def lastHistoryStep(self) -> int:  # noqa: N802 - wandb's name
        """The last step logged in the run's history (-1 when none), as ``wandb``."""
        last = self.history_keys.get("lastStep", -1)
        return int(last) if isinstance(last, int | float) else -1


def wandb_histories(runs: Iterator[RunHistory], samples: int, keys: list[str] | None, x_axis: str,
                    format: str, stream: str) -> Any:
    """``wandb``'s ``Runs.histories``: every run's sampled history, rows tagged with ``run_id``.

    The same rows as ``run.history(samples, keys, x_axis, pandas=False, stream)`` of each run,
    asked for :data:`~wandb_frames.history.batches.SAMPLED_BATCH` runs per request (the same
    field and arguments under ``runs(filters: {"name": {"$in": [...]}})``), a few requests in
    flight; a run missing from an answer, or with no rows for ``keys``, is asked alone, as wandb
    does.

    Raises:
        ConfigurationError: ``format`` is not ``"default"``, ``"pandas"`` or ``"polars"``, or
            ``run.history`` would refuse the arguments.
    """
    if format not in ("default", "pandas", "polars"):
        raise ConfigurationError(f"format must be 'default', 'pandas' or 'polars', got {format!r}")
    if keys is not None and not isinstance(keys, list):
        raise ConfigurationError(f"keys must be a list of metric names, got {keys!r}")
    if keys and not all(isinstance(k, str) for k in keys):
        raise ConfigurationError("keys must be a list of strings")
    if keys and stream != "default":
        raise ConfigurationError("stream must be 'default' when keys are given (as in wandb)")
    listed = list(runs)
    prefetch: BatchPrefetch[list[dict[str, Any]]] | None = None
    if listed:
        first = listed[0]
        session = first._api
        limited = LimitedExecutor(session, session.transport.limiter)
        prefetch = BatchPrefetch(
            sampled_batch(limited, entity=first.entity, project=first.project, samples=samples, keys=keys,
                          x_axis=x_axis, stream=stream),
            [run.id for run in listed], batch_size=SAMPLED_BATCH, lookahead=3, workers=4,
        )
    parts: list[tuple[str, list[dict[str, Any]]]] = []
    try:
        for run in listed:
            batched = prefetch.get(run.id) if prefetch is not None else None
            if batched is None or (keys and not batched):
                rows = run.history(samples=samples, keys=keys, x_axis=x_axis, pandas=False, stream=stream)
                assert isinstance(rows, list)
            else:
                rows = batched
            if rows:
                parts.append((run.id, rows))
    finally:
        if prefetch is not None:
            prefetch.close()
    if format == "default":
        out: list[dict[str, Any]] = []
        for run_id, rows in parts:
            for row in rows:
                row["run_id"] = run_id
            out.extend(rows)
        return out
    if format == "pandas":
        import pandas as pd

        frames = []
        for run_id, rows in parts:
            frame = pd.DataFrame.from_records(rows)
            frame["run_id"] = run_id
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        combined = pd.concat(frames)
        combined = combined.reset_index(drop=True)
        return combined[sorted(combined.columns)]
    import polars as pl

    polar_frames = [pl.from_records(rows).with_columns(pl.lit(run_id).alias("run_id")) for run_id, rows in parts]
    if not polar_frames:
        return pl.DataFrame()
    combined_pl = pl.concat(polar_frames, how="vertical")
    return combined_pl.select(sorted(combined_pl.columns))


class RunsHistoryFrames:
    """``Runs.history_frames``: the complete, typed histories of a listing (a mixin of ``Runs``)."""

    _api: ApiSession
    sep: str
    offline: bool
    project: str
    limit: int | None
    progress: bool | None
    _full: pa.Table | None
    _plan: QueryPlan

    @property
    def entity(self) -> str:  # provided by Runs
        raise NotImplementedError

    @property
    def path(self) -> str:  # provided by Runs
        raise NotImplementedError

    def _full_table(self) -> pa.Table:  # provided by Runs
        raise NotImplementedError

    def _query(self) -> ListingQuery:  # provided by Runs
        raise NotImplementedError

    def _provenance(self, **extra: Any) -> dict[str, Any]:  # provided by Runs
        raise NotImplementedError

    def history_frames(
        self,
        keys: Sequence[str] | None = None,
        samples: int | None = None,
        *,
        stream: run_history.Stream = "default",
        with_config: Sequence[str] | None = None,
        with_columns: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        max_workers: int | None = None,
    ) -> run_history.Histories:
        """The complete metric histories of these runs as one long table, fetched lazily.

        Columns: ``run_id, _step, metric, value, _timestamp, _runtime``, then any run
        columns asked for, ready for ``seaborn.relplot(x="_step", y="value", hue=...)``.
        ``.to_wide()`` gives one column per metric (outer join by step). Each batch of runs'
        parquet exports is asked for in one request, then the downloads run side by side
        (``docs/history.md``, "Transport"); a progress bar counts the runs (``progress``).

        Args:
            keys: Only these metrics (default: all numeric metrics).
            samples: None for every row; a number for deterministic downsampling per metric.
            stream: ``"default"`` or ``"system"``.
            with_config: Config keys to attach to every row, e.g. ``["lr"]`` → ``config.lr``.
            with_columns: Other runs-frame columns to attach (e.g. ``["group", "state"]``).
            min_step: First step, inclusive.
            max_step: Last step, exclusive.
            max_workers: Requests in flight at most; None: the transport's adaptive limit
                (grown while answers are healthy, halved on 429/5xx).
        """
        if isinstance(keys, str):
            raise ConfigurationError(f"keys must be a list of metric names, got the string {keys!r}")
        wanted = [f"config{self.sep}{key}" for key in (with_config or ())]
        wanted += list(with_columns or ())
        if not wanted and self._full is None and self._api.cache is None and not self.offline \
                and self._plan.exact_on_server:
            # Only the runs' IDs are needed: one light ID listing, not the whole table.
            ids = listed_run_ids(self._api.execute, self._query(), limit=self.limit)
            return self._history_frames(ids, {}, None, keys, samples, stream, min_step, max_step, max_workers)
        table = self._full_table()
        missing = [name for name in wanted if name not in table.column_names]
        if missing:
            raise ConfigurationError(
                f"cannot attach {missing}: no such column in the runs frame of {self.path}"
            )
        run_ids = table.column("id").to_pylist() if table.num_rows else []
        run_columns: dict[str, dict[str, Any]] = {}
        if wanted:
            values = {name: table.column(name).to_pylist() for name in wanted}
            for i, run_id in enumerate(run_ids):
                run_columns[run_id] = {name: values[name][i] for name in wanted}
        return self._history_frames(run_ids, run_columns, table, keys, samples, stream, min_step, max_step,
                                    max_workers)

    def _history_frames(
        self, run_ids: list[str], run_columns: dict[str, dict[str, Any]], table: pa.Table | None,
        keys: Sequence[str] | None, samples: int | None, stream: run_history.Stream, min_step: int | None,
        max_step: int | None, max_workers: int | None,
    ) -> run_history.Histories:
        histories = run_history.fetch_histories(
            self._api, run_history.parquet_getter(self._api), entity=self.entity, project=self.project,
            run_ids=run_ids, keys=list(keys) if keys is not None else None, samples=samples,
            stream=stream, min_step=min_step, max_step=max_step,
            run_columns=run_columns or None, max_workers=max_workers,
            limiter=self._api.transport.limiter, progress=self.progress,
            connection=Connection.of(self._api),  # key-free: for to_dask() and partitioned parquet
            on_unknown_keys=lambda unknown, known: warn_unknown_keys(
                unknown, known, f"the histories of {len(run_ids)} run(s) of {self.path}"),
            wrap=None if table is None else history_cache_wrap(
                self._api, self.entity, self.project, lambda: run_tokens(table), stream=stream,
                keys=keys, min_step=min_step, max_step=max_step, offline=self.offline,
            ),
        )
        histories.provenance = self._provenance(keys=list(keys) if keys is not None else None,
                                                samples=samples)
        return histories
