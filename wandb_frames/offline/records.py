"""Fold W&B protobuf ``Record`` messages into one :class:`~wandb_frames.testing.records.RunRecord`.

Pure: no file I/O. The rules (``docs/offline.md`` has the full table):

- ``run``: id, project/entity, display name, group, job type, notes, tags, host, sweep,
  git commit, start time (→ ``created_at``) and the initial config.
- ``config``: updates and removals applied in file order, top-level or by nested path.
- ``history``: one row per record; nested keys are joined with ``.``; ``_step`` comes from
  the row (or the record's step); ``_runtime``/``_timestamp`` as logged.
- ``summary``: every history row updates the summary (last value per key), then ``summary``
  records apply updates/removals in file order — W&B's own rule, so explicit
  ``run.summary[k] = v`` overrides win until the next ``log`` of that key.
- ``stats`` (system metrics): one ``system_history`` row per record with ``system.<key>``
  columns, ``_timestamp`` and ``_runtime`` (seconds since start); last values →
  ``system_metrics``.
- ``exit``: exit code 0 → ``finished``, non-zero → ``failed`` (W&B's states: ``crashed``
  is what the server assigns when heartbeats stop, which for a file means: no exit record
  and the file not written to for ``running_window`` seconds; otherwise ``running``).
- ``files`` records list file names; ``environment`` becomes ``wandb-metadata.json``;
  ``output_raw`` lines become ``output.log``.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from wandb_frames.offline.columns import HistoryRows
from wandb_frames.testing.records import RunRecord

__all__ = ["RunFold", "fold_records"]


def _loads(text: str) -> Any:
    """W&B JSON (bare ``NaN``/``Infinity`` allowed); undecodable text stays a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _loads_many(texts: list[str]) -> list[Any]:
    """Decode many JSON texts in one call (orjson), falling back per text for W&B's extensions."""
    try:
        values: list[Any] = orjson.loads("[" + ",".join(texts) + "]")
    except orjson.JSONDecodeError:
        return [_loads(t) for t in texts]
    if len(values) != len(texts):  # an empty or multi-value text shifted the batch
        return [_loads(t) for t in texts]
    return values


def _path(item: Any) -> tuple[str, ...]:
    nested = item.nested_key
    return tuple(nested) if len(nested) else (item.key,)


def _items(items: Any) -> list[tuple[tuple[str, ...], Any]]:
    """``(path, value)`` of config/summary items, values decoded in one batch."""
    listed = list(items)
    paths = [_path(item) for item in listed]
    return list(zip(paths, _loads_many([item.value_json for item in listed]), strict=True))


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if len(path) == 1:
        target[path[0]] = value
        return
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _del_path(target: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = target
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _history_value(item: Any) -> Any:
    kind = item.WhichOneof("value")
    if kind is None:
        return _loads(item.value_json)
    if kind == "none":
        return None
    if kind == "json":
        return _loads(item.json)
    return getattr(item, kind)


def _seconds(ts: Any) -> float:
    return float(ts.seconds) + float(ts.nanos) / 1e9


_MIN_SECONDS = -62_135_596_800.0  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253_402_300_799.0  # 9999-12-31T23:59:59Z


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class RunFold:
    """Accumulates one run's records; :meth:`result` returns the :class:`RunRecord`.

    Args:
        run_id: the ID to use until (or unless) a ``run`` record names it (from the file name).
    """

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self.project = ""
        self.entity = ""
        self.fields: dict[str, Any] = {}
        self.start: float | None = None
        self.last_seen: float | None = None
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.system: dict[str, Any] = {}
        self.history = HistoryRows()
        self.system_history: list[dict[str, Any]] = []
        self.file_names: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.output: list[str] = []
        self.exit_code: int | None = None
        self.exit_runtime: float | None = None
        self.count = 0

    # ---------------------------------------------------------------- per record type
    def add(self, record: Any) -> None:
        """Apply one parsed ``wandb_internal_pb2.Record`` (unknown kinds are ignored)."""
        self.count += 1
        kind = record.WhichOneof("record_type")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(getattr(record, kind))

    def _see(self, seconds: float) -> None:
        # a time outside datetime's years 1-9999 (e.g. a logged _timestamp of 1e300) is not a heartbeat
        if _MIN_SECONDS < seconds < _MAX_SECONDS and (self.last_seen is None or seconds > self.last_seen):
            self.last_seen = seconds

    def _on_run(self, run: Any) -> None:
        self.run_id = run.run_id or self.run_id
        self.project = run.project or self.project
        self.entity = run.entity or self.entity
        f = self.fields
        for src, dst in (("display_name", "display_name"), ("run_group", "group"),
                         ("job_type", "job_type"), ("notes", "notes"), ("host", "host"),
                         ("sweep_id", "sweep")):
            value = getattr(run, src)
            if value:
                f[dst] = value
        if run.tags:
            f["tags"] = list(run.tags)
        if run.HasField("git") and run.git.commit:
            f["commit"] = run.git.commit
        if run.HasField("start_time") and self.start is None:
            self.start = _seconds(run.start_time)
            self._see(self.start)
        self._on_config(run.config)
        self._on_summary(run.summary)

    def _on_config(self, config: Any) -> None:
        for path, value in _items(config.update):
            _set_path(self.config, path, value)
        for item in config.remove:
            _del_path(self.config, _path(item))

    def _on_summary(self, summary: Any) -> None:
        for path, value in _items(summary.update):
            _set_path(self.summary, path, value)
        for item in summary.remove:
            _del_path(self.summary, _path(item))

    def _on_history(self, history: Any) -> None:
        row: dict[str, Any] = {}
        items = list(history.item)
        if any(item.WhichOneof("value") for item in items):
            pairs = [(_path(item), _history_value(item)) for item in items]
        else:  # the usual case: every value is JSON text
            pairs = _items(items)
        summary = self.summary
        for path, value in pairs:
            if len(path) == 1:
                row[path[0]] = summary[path[0]] = value
            else:
                row[".".join(path)] = value
                _set_path(summary, path, value)
        if "_step" not in row and history.HasField("step"):
            row["_step"] = summary["_step"] = history.step.num
        ts = row.get("_timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            self._see(float(ts))
        self.history.append(row)

    def _on_stats(self, stats: Any) -> None:
        ts = _seconds(stats.timestamp) if stats.HasField("timestamp") else self.last_seen
        row: dict[str, Any] = {}
        if ts is not None:
            self._see(ts)
            row["_timestamp"] = ts
            if self.start is not None:
                row["_runtime"] = ts - self.start
        listed = list(stats.item)
        for item, value in zip(listed, _loads_many([i.value_json for i in listed]), strict=True):
            row["system." + item.key] = value
            self.system[item.key] = value
        self.system_history.append(row)

    def _on_exit(self, exit_: Any) -> None:
        self.exit_code = int(exit_.exit_code)
        self.exit_runtime = float(exit_.runtime)

    def _on_files(self, files: Any) -> None:
        for item in files.files:
            if item.path not in self.file_names:
                self.file_names.append(item.path)

    def _on_environment(self, env: Any) -> None:
        json_format = importlib.import_module("google.protobuf.json_format")
        self.metadata.update(json_format.MessageToDict(env))

    def _on_output_raw(self, out: Any) -> None:
        self.output.append(out.line)

    # ---------------------------------------------------------------- result
    def state(self, *, idle_seconds: float | None, running_window: float) -> str:
        """``finished``/``failed`` from the exit record, else ``running`` or ``crashed``.

        Args:
            idle_seconds: seconds since the file was last written (None: unknown → crashed).
            running_window: a run without an exit record younger than this is ``running``.
        """
        if self.exit_code is not None:
            return "finished" if self.exit_code == 0 else "failed"
        if idle_seconds is not None and idle_seconds < running_window:
            return "running"
        return "crashed"

    def result(self, *, idle_seconds: float | None = None, running_window: float = 300.0) -> RunRecord:
        """The accumulated :class:`RunRecord` (see the module docstring for the rules)."""
        rec: RunRecord = {"id": self.run_id}
        rec["display_name"] = self.fields.get("display_name", self.run_id)
        rec["state"] = self.state(idle_seconds=idle_seconds, running_window=running_window)
        if self.start is not None:
            rec["created_at"] = _utc(self.start)
            end = self.last_seen if self.last_seen is not None else self.start
            if self.exit_runtime:
                end = max(end, self.start + self.exit_runtime)
            rec["heartbeat_at"] = _utc(end)
        rec["config"] = self.config
        rec["summary"] = self.summary
        rec["system_metrics"] = self.system
        rec["tags"] = list(self.fields.get("tags", []))
        for key in ("group", "job_type", "sweep", "host", "notes", "commit"):
            rec[key] = self.fields.get(key)
        rec["history"] = self.history
        rec["system_history"] = self.system_history
        files: dict[str, str | bytes] = {}
        if self.metadata:
            files["wandb-metadata.json"] = json.dumps(self.metadata, indent=2)
        if self.output:
            files["output.log"] = "".join(self.output)
        rec["files"] = files
        return rec


def fold_records(records: Iterable[Any], run_id: str = "", **result_options: Any) -> RunRecord:
    """Fold parsed ``Record`` messages (in file order) into a :class:`RunRecord`.

    Args:
        records: ``wandb_internal_pb2.Record`` messages.
        run_id: fallback ID when no ``run`` record is present (a torn file).
        **result_options: passed to :meth:`RunFold.result` (``idle_seconds``, ``running_window``).

    Returns:
        The run record.
    """
    fold = RunFold(run_id)
    for record in records:
        fold.add(record)
    return fold.result(**result_options)
