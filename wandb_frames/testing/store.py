"""In-memory storage of the local server: projects and runs in W&B's wire shapes.

Every JSON string a listing returns (config, summary, system metrics) is serialised once,
when the run is stored. Filtered and ordered run lists are cached per
``(project version, filters, order)``; any write bumps the project's version.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wandb_frames.testing import mongo
from wandb_frames.testing.history import history_keys
from wandb_frames.testing.records import ArtifactRecord, ReportRecord, RunRecord, SweepRecord
from wandb_frames.testing.wire import dumps, global_id, iso

__all__ = ["ProjectStore", "Store", "StoredRun"]

_CACHE_SIZE = 64


def _parts(values: Mapping[str, Any], wrap: bool) -> dict[str, str]:
    return {
        k: json.dumps(k, ensure_ascii=False) + ":" + dumps({"value": v, "desc": None} if wrap else v)
        for k, v in values.items()
    }


def join_parts(parts: Mapping[str, str], keys: Iterable[str] | None) -> str:
    """A JSON object text from pre-serialised ``"key":value`` parts (all, or only ``keys``)."""
    if keys is None:
        return "{" + ",".join(parts.values()) + "}"
    return "{" + ",".join(parts[k] for k in dict.fromkeys(keys) if k in parts) + "}"


class StoredRun:
    """One run: its record, its Mongo document and its pre-serialised wire values."""

    __slots__ = (
        "record", "doc", "wire", "config_parts", "summary_parts", "config_text", "summary_text", "project", "_cache"
    )

    def __init__(self, record: RunRecord, project: ProjectStore, index: int, username: str) -> None:
        self.record = record
        self.project = project
        self._cache: dict[str, Any] = {}
        self.doc = mongo.run_to_document(
            record, entity=project.entity, project=project.name, index=index, username=username
        )
        self.config_parts = _parts(record.get("config", {}), wrap=True)
        self.summary_parts = _parts(record.get("summary", {}), wrap=False)
        # The whole texts too: a listing without ``keys`` sends them as stored (as W&B sends
        # its stored JSON), not joined again from the parts for every run of every page.
        self.config_text = join_parts(self.config_parts, None)
        self.summary_text = join_parts(self.summary_parts, None)
        doc = self.doc
        user = doc["username"]
        history = record.get("history") or []
        notes = record.get("notes")
        self.wire: dict[str, Any] = {
            "__run__": self,
            "id": global_id("Run", "v1", record["id"], project.name, project.entity),
            "name": record["id"],
            "displayName": doc["displayName"],
            "description": notes,
            "notes": notes,
            "projectId": project.internal_id,
            "entityName": project.entity,
            "projectName": project.name,
            "state": doc["state"],
            "group": doc["group"],
            "jobType": doc["jobType"],
            "commit": doc["commit"],
            "host": doc["host"],
            "sweepName": doc["sweep"],
            "readOnly": False,
            "tags": doc["tags"],
            "createdAt": iso(doc["createdAt"]),
            "heartbeatAt": iso(doc["heartbeatAt"]),
            "updatedAt": iso(doc["updatedAt"]),
            "computeSeconds": doc["duration"],
            "historyLineCount": len(history),
            "eventsLineCount": len(record.get("system_history") or []),
            "fileCount": len(record.get("files") or {}),
            "user": {"id": global_id("User", user), "name": user, "username": user},
            "systemMetrics": dumps(record.get("system_metrics", {})),
        }

    @property
    def run_id(self) -> str:
        """The run ID (GraphQL ``name``)."""
        return self.record["id"]

    def history_rows(self) -> list[dict[str, Any]]:
        """History rows (``_step`` filled in with the row index when absent)."""
        rows = self._cache.get("history")
        if rows is None:
            rows = []
            for i, row in enumerate(self.record.get("history") or []):
                rows.append(row if "_step" in row else {"_step": i, **row})
            self._cache["history"] = rows
        return rows

    def history_json(self) -> list[str]:
        """History rows as JSON strings (cached)."""
        texts = self._cache.get("history_json")
        if texts is None:
            texts = [dumps(r) for r in self.history_rows()]
            self._cache["history_json"] = texts
        return texts

    def history_keys(self) -> dict[str, Any]:
        """The ``historyKeys`` object (cached)."""
        keys = self._cache.get("history_keys")
        if keys is None:
            keys = history_keys(self.history_rows())
            self._cache["history_keys"] = keys
        return keys

    def cached(self, name: str) -> Any:
        """A per-run cached value (None when absent)."""
        return self._cache.get(name)

    def remember(self, name: str, value: Any) -> None:
        """Cache a per-run value."""
        self._cache[name] = value


@dataclass
class ProjectStore:
    """One project: runs (insertion order), sweeps, artifacts, reports."""

    entity: str
    name: str
    internal_id: str
    created_at: datetime
    description: str | None = None
    runs: dict[str, StoredRun] = field(default_factory=dict)
    sweeps: dict[str, SweepRecord] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    reports: list[ReportRecord] = field(default_factory=list)
    version: int = 0

    @property
    def wire(self) -> dict[str, Any]:
        """The GraphQL source object of this project (plain fields only)."""
        return {
            "__project__": self,
            "id": global_id("Project", "v1", self.name, self.entity),
            "internalId": self.internal_id,
            "name": self.name,
            "entityName": self.entity,
            "entity": {"id": global_id("Entity", self.entity), "name": self.entity, "isTeam": False},
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.created_at),
            "isBenchmark": False,
            "readOnly": False,
            "description": self.description,
            "access": "PRIVATE",
            "views": "{}",
        }


def _parse_order(order: str | None) -> tuple[str | None, bool]:
    text = (order or "").strip() or "-createdAt"
    descending = text.startswith("-")
    key = text[1:] if text[:1] in "+-" else text
    return mongo.normalize_key(key.strip()), descending


def decode_filters(filters: Any) -> dict[str, Any]:
    """The ``filters`` argument (a JSON string, an object or null) as a dict.

    Raises:
        mongo.ServerFilterError: 400 for malformed JSON or a non-object.
    """
    if filters is None or filters == "":
        return {}
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError as exc:
            raise mongo.ServerFilterError(400, f"filters is not valid JSON: {exc}") from exc
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise mongo.ServerFilterError(400, "filters must be a JSON object")
    return filters


class Store:
    """All projects of one server, with a lock for writes and a cache of ordered run lists."""

    def __init__(self, entity: str, username: str) -> None:
        self.entity = entity
        self.username = username
        self.lock = threading.RLock()
        self.projects: dict[tuple[str, str], ProjectStore] = {}
        self.runs_by_storage_id: dict[str, StoredRun] = {}
        self._ids = itertools.count(1)
        self._run_index = itertools.count()
        self._selection: OrderedDict[tuple[Any, ...], list[StoredRun]] = OrderedDict()

    def project(self, entity: str | None, name: str | None) -> ProjectStore | None:
        """The project or None."""
        return self.projects.get((entity or self.entity, name or ""))

    def ensure_project(self, entity: str, name: str, description: str | None = None) -> tuple[ProjectStore, bool]:
        """Get or create a project; returns ``(project, inserted)``."""
        with self.lock:
            key = (entity, name)
            if key in self.projects:
                return self.projects[key], False
            proj = ProjectStore(entity, name, str(next(self._ids)), datetime(2024, 1, 1), description)
            self.projects[key] = proj
            return proj, True

    def put_runs(self, project: ProjectStore, records: Iterable[RunRecord]) -> list[StoredRun]:
        """Insert or replace runs (by run ID)."""
        stored = []
        with self.lock:
            for record in records:
                if not isinstance(record, Mapping) or not isinstance(record.get("id"), str):
                    raise ValueError("every run record needs a string 'id'")
                run = StoredRun(record, project, next(self._run_index), self.username)
                old = project.runs.get(run.run_id)
                if old is not None:  # re-assigning an existing key keeps the run's position
                    self.runs_by_storage_id.pop(old.wire["id"], None)
                project.runs[run.run_id] = run
                self.runs_by_storage_id[run.wire["id"]] = run
                stored.append(run)
            self.touch(project)
        return stored

    def delete_run(self, run: StoredRun) -> None:
        """Remove a run."""
        with self.lock:
            run.project.runs.pop(run.run_id, None)
            self.runs_by_storage_id.pop(run.wire["id"], None)
            self.touch(run.project)

    def touch(self, project: ProjectStore) -> None:
        """Invalidate cached selections of a project."""
        with self.lock:
            project.version += 1

    def select(
        self, project: ProjectStore, filters: Any, order: str | None, extra: Mapping[str, Any] | None = None
    ) -> list[StoredRun]:
        """Runs matching ``filters`` (and ``extra``), sorted by ``order``; cached.

        Raises:
            mongo.ServerFilterError: a filter W&B would reject.
        """
        spec = decode_filters(filters)
        if extra:
            spec = {"$and": [dict(extra), spec]} if spec else dict(extra)
        key = (id(project), project.version, json.dumps(spec, sort_keys=True, default=str), order or "")
        with self.lock:
            hit = self._selection.get(key)
            if hit is not None:
                self._selection.move_to_end(key)
                return hit
        with self.lock:  # a concurrent write (e.g. listing churn) must not resize the dict mid-copy
            runs = list(project.runs.values())
        ids = _names_in(spec) if spec else None
        if spec and ids is None:
            ids = set(mongo.select_ids(spec, [r.doc for r in runs]))
        chosen = [r for r in runs if ids is None or r.run_id in ids]
        chosen.sort(key=lambda r: r.run_id)
        path, descending = _parse_order(order)
        if path is not None:
            chosen.sort(key=lambda r: mongo.sort_key(mongo.get_path(r.doc, path)), reverse=descending)
        with self.lock:
            self._selection[key] = chosen
            while len(self._selection) > _CACHE_SIZE:
                self._selection.popitem(last=False)
        return chosen


def _names_in(spec: Any) -> set[str] | None:
    """The run IDs of ``{"name": {"$in": [ids]}}`` (what an ID-batched listing sends), else None.

    The index lookup a database does for this filter: exactly the runs mongomock would match
    (``name`` is the run ID, a string), without scanning every document. Any other shape,
    or an ``$in`` list holding anything but strings, returns None (evaluate with mongomock).
    """
    if type(spec) is not dict or list(spec) != ["name"]:
        return None
    condition = spec["name"]
    if type(condition) is not dict or list(condition) != ["$in"] or type(condition["$in"]) is not list:
        return None
    names = condition["$in"]
    if not all(type(name) is str for name in names):
        return None
    return set(names)
