"""Fetching one run's history over the W&B protocol (parquet export, live tail, paged rows).

The transport is abstracted by two small callables so that this module does not depend on the
client core: an :class:`Executor` (GraphQL document → ``data``; defined in
:mod:`wandb_frames.graphql.executor` and re-exported here) and a :data:`Getter` (presigned
URL → bytes).

Paths, fastest first (protocol notes §5):

1. ``RunParquetHistory``: ``parquetUrls`` read straight into Arrow; ``liveData`` steps name the
   not-yet-exported tail, fetched with ``HistoryPage`` from the smallest live step. When steps
   strictly increase across export and tail, :mod:`~wandb_frames.history.melt` builds the long
   table without sorting or copying; otherwise each part is melted and deduplicated.
2. ``HistoryPage`` pages ``[minStep, maxStep)`` up to ``lastStep + 1`` when the server has no
   parquet export (a ``GraphQLError`` on ``parquetHistory``) or exports nothing.
3. ``RunEvents`` for the system-metrics stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import graphql
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wandb_frames.errors import (
    ConfigurationError,
    GraphQLError,
    IncompleteResultError,
    NotFoundError,
    ProtocolError,
)
from wandb_frames.graphql.documents import load_document
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.session import Session
from wandb_frames.history.frames import (
    LongPart,
    decode_rows,
    dedup_long,
    empty_long,
    long_to_wide,
    rows_to_wide,
    wide_to_long,
)
from wandb_frames.history.melt import assemble, melt_sorted

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "EventRows",
    "Executor",
    "ExportInfo",
    "Getter",
    "Stream",
    "check_keys",
    "fetch_run_history",
    "fetch_run_long",
    "load_query",
    "parquet_getter",
    "scan_history_rows",
]

Stream = Literal["default", "system"]
#: Steps per ``HistoryPage`` request on the paged path.
DEFAULT_PAGE_SIZE = 10_000
_INT_MAX = 2**31 - 1


#: Downloads a (presigned) parquet URL and returns its bytes; no credentials are attached.
Getter = Callable[[str], bytes]


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """What the server says about one run's history before any row is read.

    Attributes:
        urls: The parquet export's files (none: no export, or nothing exported yet).
        live: ``liveData``: one ``{"_step": …}`` per row not yet exported (the live tail).
        last_step: ``historyKeys.lastStep`` (None: no history).
        keys: The metric names in ``historyKeys.keys`` (None: the server did not say).
    """

    urls: list[str] = field(default_factory=list)
    live: list[Any] = field(default_factory=list)
    last_step: int | None = None
    keys: frozenset[str] | None = None

    @classmethod
    def from_node(cls, run: Mapping[str, Any]) -> ExportInfo:
        """From a run node selecting ``historyKeys`` and ``parquetHistory { parquetUrls liveData }``."""
        exported = run.get("parquetHistory") or {}
        urls = [u for u in exported.get("parquetUrls") or [] if isinstance(u, str)]
        history_keys = _history_keys(run.get("historyKeys"))
        return cls(urls, list(exported.get("liveData") or []), _last_step(history_keys), _key_names(history_keys))


@dataclass(frozen=True, slots=True)
class EventRows:
    """One run's system-metrics rows as the server sent them (JSON texts) and their count."""

    texts: list[str]
    count: int | None

    @classmethod
    def from_node(cls, run: Mapping[str, Any], operation: str) -> EventRows:
        """From a run node selecting ``eventsLineCount`` and ``events``."""
        texts = run.get("events")
        if not isinstance(texts, list):
            raise ProtocolError(f"{operation}: 'events' is not a list", operation=operation)
        count = run.get("eventsLineCount")
        return cls(texts, count if isinstance(count, int) else None)


def parquet_getter(session: Session) -> Getter:
    """Downloads history parquet files through ``session``'s transport (retries, no gzip)."""

    def get(url: str) -> bytes:
        return session.transport.get_bytes(url, what="history parquet", compressed=False)

    return get


@cache
def load_query(name: str) -> graphql.DocumentNode:
    """Parse ``wandb_frames/history/queries/<name>.graphql`` with its shared fragments (cached).

    Args:
        name: The operation name, e.g. ``"HistoryPage"``.

    Returns:
        The parsed document.
    """
    return load_document(f"{name}.graphql", package="wandb_frames.history").ast


def check_keys(keys: Sequence[str] | None) -> None:
    """Reject a bare string as ``keys`` (it would select its characters, silently matching nothing).

    Raises:
        ConfigurationError: ``keys`` is a string, or holds something other than strings.
    """
    if keys is None:
        return
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise ConfigurationError(f"keys must be a list of metric names, got {keys!r}")


def _run_node(data: Mapping[str, Any], *, entity: str, project: str, run_id: str, operation: str) -> dict[str, Any]:
    proj = data.get("project") if isinstance(data, Mapping) else None
    if proj is None:
        raise NotFoundError(f"project {entity}/{project} not found", operation=operation, what="project")
    run = proj.get("run") if isinstance(proj, Mapping) else None
    if run is None:
        raise NotFoundError(
            f"run {entity}/{project}/{run_id} not found; check the run ID (not the display name)",
            operation=operation,
            what="run",
        )
    if not isinstance(run, dict):
        raise ProtocolError(f"{operation}: 'run' is not an object", operation=operation)
    return run


def _history_keys(history_keys: Any) -> Any:
    """``historyKeys`` decoded (the server may send its JSON as text)."""
    return json.loads(history_keys) if isinstance(history_keys, str) else history_keys


def _key_names(history_keys: Any) -> frozenset[str] | None:
    """The metric names of a decoded ``historyKeys`` (None when it lists none)."""
    keys = history_keys.get("keys") if isinstance(history_keys, Mapping) else None
    return frozenset(k for k in keys if isinstance(k, str)) if isinstance(keys, Mapping) else None


def _last_step(history_keys: Any) -> int | None:
    history_keys = _history_keys(history_keys)
    if not isinstance(history_keys, Mapping):
        return None
    last = history_keys.get("lastStep")
    return int(last) if isinstance(last, (int, float)) else None


def _history_rows(
    executor: Executor,
    *,
    entity: str,
    project: str,
    run_id: str,
    lo: int,
    hi: int,
    page_size: int,
) -> Iterator[list[str]]:
    """Yield JSON-string rows page by page over ``[lo, hi)``; no page is silently truncated.

    A page asks for every row of its step range (``samples`` well above the range; a full page is
    asked again with more). Over sparse steps the range doubles while pages come back less than
    half full, so a run logging every 1000th step does not cost one request per 1000 steps.
    """
    doc = load_query("HistoryPage")
    start, span = lo, page_size
    while start < hi:
        end = min(start + span, hi)
        samples = min(_INT_MAX, 2 * max(end - start, page_size) + 16)
        while True:
            variables = {"entity": entity, "project": project, "run": run_id,
                         "minStep": start, "maxStep": end, "samples": samples}
            data = executor.execute(doc, variables, operation="HistoryPage")
            texts = _run_node(data, entity=entity, project=project, run_id=run_id,
                              operation="HistoryPage").get("history")
            if not isinstance(texts, list):
                raise ProtocolError("HistoryPage: 'history' is not a list", operation="HistoryPage")
            if len(texts) < samples or samples >= _INT_MAX:
                break
            # Repeated steps filled the sample cap: ask again for more, never keep a sampled page.
            samples = min(_INT_MAX, samples * 4)
        yield texts
        start = end
        span = min(span * 2, 1 << 40) if len(texts) < page_size // 2 else page_size


def _paged_wide(
    executor: Executor, *, entity: str, project: str, run_id: str, lo: int, hi: int, page_size: int
) -> tuple[pa.Table, dict[str, int]]:
    texts: list[str] = []
    for page in _history_rows(executor, entity=entity, project=project, run_id=run_id,
                              lo=lo, hi=hi, page_size=page_size):
        texts.extend(page)
    return rows_to_wide(decode_rows(texts))


def _export_info(executor: Executor, *, entity: str, project: str, run_id: str) -> ExportInfo:
    """One run's :class:`ExportInfo`; no URLs when the server has no parquet export."""
    ids = {"entity": entity, "project": project, "run": run_id}
    data: dict[str, Any] | None
    try:
        data = executor.execute(load_query("RunParquetHistory"), {**ids, "liveKeys": ["_step"]},
                                operation="RunParquetHistory")
    except GraphQLError:
        data = None  # no parquet export on this server: page the rows instead
    if data is None:
        data = executor.execute(load_query("RunHistoryKeys"), ids, operation="RunHistoryKeys")
        run = _run_node(data, entity=entity, project=project, run_id=run_id, operation="RunHistoryKeys")
        history_keys = _history_keys(run.get("historyKeys"))
        return ExportInfo(last_step=_last_step(history_keys), keys=_key_names(history_keys))
    run = _run_node(data, entity=entity, project=project, run_id=run_id, operation="RunParquetHistory")
    return ExportInfo.from_node(run)


def _tail_start(urls: Sequence[str], live: Sequence[Any], lo: int) -> int | None:
    """Where paging must start: the first live step after a parquet export, ``lo`` without one."""
    steps = [float(r["_step"]) for r in live if isinstance(r, Mapping) and isinstance(r.get("_step"), (int, float))]
    if urls and not steps:
        return None
    return max(lo, int(min(steps))) if (urls and steps) else lo


def _step_filter(table: pa.Table, min_step: int | None, max_step: int | None) -> pa.Table:
    if (min_step is None and max_step is None) or "_step" not in table.column_names:
        return table
    step = table.column("_step")
    mask = None
    if min_step is not None:
        mask = pc.greater_equal(step, min_step)
    if max_step is not None:
        upper = pc.less(step, max_step)
        mask = upper if mask is None else pc.and_(mask, upper)
    return table.filter(mask)


def _read_parquet(get: Getter, url: str) -> pa.Table:
    try:
        # One small file per run, many runs read side by side: ParquetFile skips the dataset
        # layer of pq.read_table (a third of the CPU per file), and no Arrow threads per file,
        # which would only queue behind each other in Arrow's small CPU pool.
        return pq.ParquetFile(pa.BufferReader(get(url))).read(use_threads=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ProtocolError(f"a parquet history file could not be read: {exc}", operation="RunParquetHistory") from exc


def fetch_run_long(
    executor: Executor,
    get: Getter,
    *,
    entity: str,
    project: str,
    run_id: str,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    stream: Stream = "default",
    page_size: int = DEFAULT_PAGE_SIZE,
    export: ExportInfo | None = None,
    events: EventRows | None = None,
) -> LongPart:
    """Fetch one run's full history as a long table plus the non-numeric value counts.

    Args:
        executor: Runs GraphQL operations.
        get: Downloads parquet URLs.
        entity: The entity (user or team).
        project: The project name.
        run_id: The run ID (GraphQL ``name``).
        keys: Only these metrics (a row is kept for any of them, never "all keys").
        min_step: First step (inclusive); default: from the first.
        max_step: Last step (exclusive); default: through the last.
        stream: ``"default"`` (training history) or ``"system"`` (system metrics, ``_step`` null).
        page_size: Steps per ``HistoryPage`` request on the paged path.
        export: The run's :class:`ExportInfo` when already known (fetched with other runs'
            in one request); default: asked for with ``RunParquetHistory``.
        events: The run's system rows when already known (``stream="system"``); default:
            asked for with ``RunEvents``.

    Returns:
        A :class:`~wandb_frames.history.frames.LongPart`.
    """
    if page_size < 1:
        raise ConfigurationError(f"page_size must be positive (got {page_size})")
    check_keys(keys)
    ids = {"entity": entity, "project": project, "run": run_id}
    if stream == "system":
        if min_step is not None or max_step is not None:
            raise ConfigurationError("min_step/max_step apply to the default stream; system rows have no _step")
        if events is None:
            answer = executor.execute(load_query("RunEvents"), {**ids, "samples": _INT_MAX}, operation="RunEvents")
            run = _run_node(answer, entity=entity, project=project, run_id=run_id, operation="RunEvents")
            events = EventRows.from_node(run, "RunEvents")
        texts, count = events.texts, events.count
        wide, sys_skipped = rows_to_wide(decode_rows(texts))
        part = wide_to_long(wide, run_id=run_id, keys=keys, dedup=False)
        if count is not None and len(texts) < count:
            raise IncompleteResultError(
                f"the server sampled system metrics of run {run_id} ({len(texts)} of {count} rows)",
                partial=part.table,
            )
        return LongPart(part.table, {**sys_skipped, **part.skipped})
    if stream != "default":
        raise ConfigurationError(f"stream must be 'default' or 'system' (got {stream!r})")

    lo = 0 if min_step is None else max(0, min_step)
    if export is None:
        export = _export_info(executor, entity=entity, project=project, run_id=run_id)
    urls, live, last = export.urls, export.live, export.last_step
    hi = (last + 1) if last is not None else 0
    if max_step is not None:
        hi = min(hi, max_step)

    wides: list[tuple[pa.Table, dict[str, int]]] = [
        (_step_filter(_read_parquet(get, url), min_step, max_step), {}) for url in urls
    ]
    start = _tail_start(urls, live, lo)
    if start is not None and start < hi:
        wides.append(_paged_wide(executor, entity=entity, project=project, run_id=run_id,
                                 lo=start, hi=hi, page_size=page_size))
    skipped: dict[str, int] = {}
    melted = [melt_sorted(w, keys=keys) for w, _ in wides]
    if all(m is not None for m in melted):
        ready = [m for m in melted if m is not None]
        table = assemble(run_id, ready)
        if table is not None:  # steps strictly increase across parts: nothing to deduplicate
            for source in [sk for _, sk in wides] + [m.skipped for m in ready]:
                for k, v in source.items():
                    skipped[k] = skipped.get(k, 0) + v
            return LongPart(table, skipped)
    parts = [wide_to_long(w, run_id=run_id, keys=keys) for w, _ in wides]
    for (_, sk), part in zip(wides, parts, strict=True):
        for source in (sk, part.skipped):
            for k, v in source.items():
                skipped[k] = skipped.get(k, 0) + v
    if not parts:
        return LongPart(empty_long(), skipped)
    if len(parts) == 1:
        return LongPart(parts[0].table, skipped)
    return LongPart(dedup_long(pa.concat_tables([p.table for p in parts])), skipped)


def fetch_run_history(
    executor: Executor,
    get: Getter,
    *,
    entity: str,
    project: str,
    run_id: str,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    stream: Stream = "default",
    format: Literal["long", "wide"] = "long",
    page_size: int = DEFAULT_PAGE_SIZE,
) -> pa.Table:
    """Fetch one run's full history as an Arrow table.

    Args:
        executor: Runs GraphQL operations.
        get: Downloads parquet URLs.
        entity: The entity.
        project: The project.
        run_id: The run ID (GraphQL ``name``).
        keys: Only these metrics (any of them per row).
        min_step: First step, inclusive.
        max_step: Last step, exclusive.
        stream: ``"default"`` or ``"system"``.
        format: ``"long"`` (``run_id, _step, metric, value, _timestamp, _runtime``) or ``"wide"``
            (``run_id, _step, _timestamp, _runtime, <metric>…``, outer join by step; for the
            system stream one row per ``_timestamp``).
        page_size: Steps per ``HistoryPage`` request on the paged path.

    Returns:
        The table.
    """
    if format not in ("long", "wide"):
        raise ConfigurationError(f"format must be 'long' or 'wide' (got {format!r})")
    part = fetch_run_long(executor, get, entity=entity, project=project, run_id=run_id, keys=keys,
                          min_step=min_step, max_step=max_step, stream=stream, page_size=page_size)
    if format == "long":
        return part.table
    return long_to_wide(part.table, index="_timestamp" if stream == "system" else "_step")


def scan_history_rows(
    executor: Executor,
    get: Getter,
    *,
    entity: str,
    project: str,
    run_id: str,
    keys: Sequence[str] | None = None,
    page_size: int = 1000,
    min_step: int | None = None,
    max_step: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Iterate a run's history rows like ``wandb``'s ``run.scan_history`` (parity, not speed).

    Same sources as wandb 0.31.0: the parquet export's rows (every column, ``None`` where a row
    lacks a key), then the live tail from ``HistoryPage`` (rows as sent, sparse); without an
    export, ``HistoryPage`` pages. Sorted by ``_step``; no deduplication; values not converted.
    With ``keys``, every row is yielded projected to ``_step`` plus ``keys`` (``None`` when
    missing), as wandb 0.31.0 does on the parquet path (its older ``sampledHistory`` path
    dropped rows lacking any key).

    Args:
        executor: Runs GraphQL operations.
        get: Downloads parquet URLs.
        entity: The entity.
        project: The project.
        run_id: The run ID.
        keys: Project rows to these keys (plus ``_step``).
        page_size: Steps per ``HistoryPage`` request.
        min_step: First step, inclusive (default 0).
        max_step: Last step, exclusive (default: ``lastStep + 1``).

    Yields:
        One ``dict`` per history row.
    """
    if page_size < 1:
        raise ConfigurationError(f"page_size must be positive (got {page_size})")
    check_keys(keys)
    info = _export_info(executor, entity=entity, project=project, run_id=run_id)
    urls, live, last = info.urls, info.live, info.last_step
    if last is None:
        return
    lo = 0 if min_step is None else max(0, min_step)
    hi = last + 1 if max_step is None else min(max_step, last + 1)
    wanted = None if keys is None else list(dict.fromkeys(k for k in keys if k != "_step"))

    def emit(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in sorted(rows, key=_row_step):
            yield row if wanted is None else {"_step": row.get("_step"), **{k: row.get(k) for k in wanted}}

    for url in urls:
        yield from emit(_step_filter(_read_parquet(get, url), lo, hi).to_pylist())
    start = _tail_start(urls, live, lo)
    if start is None:
        return
    for page in _history_rows(executor, entity=entity, project=project, run_id=run_id,
                              lo=start, hi=hi, page_size=page_size):
        yield from emit(decode_rows(page))


def _row_step(row: Mapping[str, Any]) -> float:
    step = row.get("_step")
    return float(step) if isinstance(step, (int, float)) else -1.0
