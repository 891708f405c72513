"""Resolvers for the viewer, projects, runs, run history and the run mutations.

Sources are plain dicts (``StoredRun.wire``, ``ProjectStore.wire``) so graphql-core's default
resolver answers plain fields; only fields with arguments or computed values have a resolver.
The store is reached through ``info.context`` (a :class:`Context`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from graphql import GraphQLResolveInfo

from wandb_frames.testing import history as hist
from wandb_frames.testing.records import RunRecord
from wandb_frames.testing.store import ProjectStore, Store, StoredRun, join_parts
from wandb_frames.testing.wire import backwards, connection, dumps, global_id

__all__ = ["FEATURES", "Context", "Info", "RESOLVERS", "Resolver", "ctx"]

Resolver = Callable[..., Any]
if TYPE_CHECKING:
    Info: TypeAlias = GraphQLResolveInfo[Any]
else:
    Info = GraphQLResolveInfo

#: Server features reported by ``serverInfo``; missing names count as disabled.
FEATURES: dict[str, bool] = {
    "SWEEPS_QUERY_FILTERING": True,
    "LARGE_FILENAMES": True,
    "ARTIFACT_TAGS": True,
    "TOTAL_COUNT_IN_FILE_CONNECTION": True,
    "ARTIFACT_DIGEST_ALGORITHM": False,
    "MARK_RUN_FILES_UPLOADED": False,
    "ARTIFACT_COLLECTIONS_FILTERING_SORTING": False,
}


@dataclass
class Context:
    """Per-server state handed to every resolver."""

    store: Store
    base_url: str
    token: str
    data_dir: Path
    email: str = "local-user@localhost"
    parquet_export: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    #: called with ``(project, operation name)`` for every runs page served (listing churn)
    on_runs_page: Callable[[ProjectStore, str | None], None] | None = None
    _export_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _export_locks_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def export_lock(self, name: str) -> threading.Lock:
        """The lock of one run's history export (one per ``name``, made on first use)."""
        with self._export_locks_guard:
            return self._export_locks.setdefault(name, threading.Lock())

    def viewer(self) -> dict[str, Any]:
        """The viewer (the only user of the server)."""
        user = self.store.username
        return {
            "id": global_id("User", user),
            "name": user,
            "username": user,
            "email": self.email,
            "admin": False,
            "flags": "{}",
            "entity": self.store.entity,
            "deletedAt": None,
            "photoUrl": None,
            "apiKeys": {"edges": []},
            "teams": {"edges": [{"node": self.entity(self.store.entity), "cursor": "0"}]},
        }

    def entity(self, name: str) -> dict[str, Any]:
        """An entity object."""
        return {"__entity__": name, "id": global_id("Entity", name), "name": name, "isTeam": False}


def ctx(info: Info) -> Context:
    """The :class:`Context` of a request."""
    context: Context = info.context
    return context


def _run(source: Mapping[str, Any]) -> StoredRun:
    run: StoredRun = source["__run__"]
    return run


def _project(source: Mapping[str, Any]) -> ProjectStore:
    project: ProjectStore = source["__project__"]
    return project


# ---------------------------------------------------------------- Query


def q_viewer(_: Any, info: Info, entityName: str | None = None) -> dict[str, Any]:
    return ctx(info).viewer()


def q_project(_: Any, info: Info, name: str | None = None, entityName: str | None = None) -> Any:
    project = ctx(info).store.project(entityName, name)
    return None if project is None else project.wire


def q_models(_: Any, info: Info, entityName: str | None = None, first: int | None = None,
             after: str | None = None, **_kw: Any) -> dict[str, Any]:
    store = ctx(info).store
    projects = [p for p in store.projects.values() if entityName in (None, "", p.entity)]
    return connection(projects, first, after, lambda p: p.wire, **backwards(_kw))


def q_entity(_: Any, info: Info, name: str | None = None, login: bool | None = None) -> Any:
    c = ctx(info)
    name = name or c.store.entity
    known = name == c.store.entity or any(p.entity == name for p in c.store.projects.values())
    return c.entity(name) if known else None


def entity_projects(source: Mapping[str, Any], info: Info, first: int | None = None,
                    after: str | None = None, **_kw: Any) -> dict[str, Any]:
    return q_models(None, info, entityName=source["__entity__"], first=first, after=after)


def q_user(_: Any, info: Info, id: str | None = None, userName: str | None = None) -> Any:
    viewer = ctx(info).viewer()
    return viewer if (id in (None, viewer["id"]) and userName in (None, viewer["username"])) else None


def q_users(_: Any, info: Info, query: str | None = None, first: int | None = None,
            after: str | None = None, **_kw: Any) -> dict[str, Any]:
    viewer = ctx(info).viewer()
    hit = query is None or query in viewer["username"] or query in viewer["email"]
    return connection([viewer] if hit else [], first, after, **backwards(_kw))


def q_server_info(_: Any, info: Info) -> dict[str, Any]:
    return {
        "cliVersionInfo": {},
        "latestLocalVersionInfo": None,
        "features": [{"name": k, "isEnabled": v} for k, v in FEATURES.items()],
    }


def q_none(*_: Any, **__: Any) -> None:
    return None


# ---------------------------------------------------------------- Project


def p_run_count(source: Mapping[str, Any], info: Info, filters: Any = None) -> int:
    return len(ctx(info).store.select(_project(source), filters, None))


def p_runs(source: Mapping[str, Any], info: Info, filters: Any = None, order: str | None = None,
           first: int | None = None, after: str | None = None, **_kw: Any) -> dict[str, Any]:
    c = ctx(info)
    project = _project(source)
    runs = c.store.select(project, filters, order)
    page = connection(runs, first, after, lambda r: r.wire, **backwards(_kw))
    if c.on_runs_page is not None:
        c.on_runs_page(project, info.operation.name.value if info.operation.name else None)
    return page


def p_run(source: Mapping[str, Any], info: Info, name: str) -> Any:
    run = _project(source).runs.get(name)
    return None if run is None else run.wire


def p_user(source: Mapping[str, Any], info: Info) -> dict[str, Any]:
    return ctx(info).viewer()


# ---------------------------------------------------------------- Run


def r_config(source: Mapping[str, Any], info: Info, keys: list[str] | None = None) -> str:
    run = _run(source)
    return run.config_text if keys is None else join_parts(run.config_parts, keys)


def r_summary(source: Mapping[str, Any], info: Info, keys: list[str] | None = None) -> str:
    run = _run(source)
    return run.summary_text if keys is None else join_parts(run.summary_parts, keys)


def r_history_keys(source: Mapping[str, Any], info: Info, format: str | None = None) -> Any:
    return _run(source).history_keys()


def r_history(source: Mapping[str, Any], info: Info, minStep: int | None = None,
              maxStep: int | None = None, samples: int | None = None) -> list[str]:
    run = _run(source)
    texts = run.history_json()
    if minStep is None and maxStep is None:
        return hist.downsample(texts, samples)
    rows = run.history_rows()
    pool = hist.ranged_source(rows, run.doc["state"]) if ctx(info).parquet_export else rows
    keep = {id(r) for r in hist.step_range(pool, minStep, maxStep, inclusive=False)}
    return hist.downsample([t for r, t in zip(rows, texts, strict=True) if id(r) in keep], samples)


def r_events(source: Mapping[str, Any], info: Info, samples: int | None = None) -> list[str]:
    run = _run(source)
    texts = run.cached("events_json")
    if texts is None:
        texts = [dumps(r) for r in run.record.get("system_history") or []]
        run.remember("events_json", texts)
    return hist.downsample(texts, samples)


def r_sampled(source: Mapping[str, Any], info: Info, specs: list[Any],
              packVersion: int | None = None) -> list[Any]:
    run = _run(source)
    rows = run.history_rows()
    ranged = hist.ranged_source(rows, run.doc["state"]) if ctx(info).parquet_export else rows
    out = []
    for spec in specs:
        parsed = json.loads(spec) if isinstance(spec, str) else spec
        if not isinstance(parsed, dict):
            raise ValueError("each sampledHistory spec must be a JSON object")
        out.append(hist.sampled_rows(ranged if hist.is_ranged(parsed) else rows, parsed))
    return out


def r_parquet(source: Mapping[str, Any], info: Info, liveKeys: list[str]) -> dict[str, Any]:
    c = ctx(info)
    if not c.parquet_export:
        raise ValueError("parquet history export is not enabled on this server")
    run = _run(source)
    exported, live = hist.split_export(run.history_rows(), run.doc["state"])
    urls: list[str] = []
    if exported:
        p = run.project
        folder = f"{p.entity}/{p.name}/{run.run_id}/{id(run):x}"
        # Concurrent first requests for one run: one writes (atomically), the others wait for it.
        with c.export_lock(folder):
            rel = run.cached("parquet")
            if rel is None:
                rel = f"{folder}/0.runhistory.parquet"
                hist.write_parquet(exported, c.data_dir / rel)
                run.remember("parquet", rel)
        urls.append(f"{c.base_url}/parquet/{c.token}/{rel}")
    wanted = list(dict.fromkeys(["_step", *liveKeys]))
    return {"parquetUrls": urls, "liveData": [{k: r[k] for k in wanted if k in r} for r in live]}


def r_project(source: Mapping[str, Any], info: Info) -> dict[str, Any]:
    return _run(source).project.wire


# ---------------------------------------------------------------- mutations


def _unwrap_config(text: Any) -> dict[str, Any]:
    raw = json.loads(text) if isinstance(text, str) else (text or {})
    if not isinstance(raw, dict):
        raise ValueError("config must be a JSON object")
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in raw.items()}


_INPUT_FIELDS = {
    "displayName": "display_name", "notes": "notes", "groupName": "group", "jobType": "job_type",
    "state": "state", "commit": "commit", "host": "host", "sweep": "sweep",
}


def m_upsert_bucket(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = ctx(info).store
    old: StoredRun | None
    with store.lock:
        if input.get("id"):
            run = store.runs_by_storage_id.get(input["id"])
            if run is None:
                raise ValueError(f"run {input['id']!r} not found")
            project, old = run.project, run
        elif input.get("name"):
            project, _ = store.ensure_project(input.get("entityName") or store.entity,
                                              input.get("modelName") or "uncategorized")
            old = project.runs.get(input["name"])
        else:
            raise ValueError("upsertBucket needs an id or a name")
        record: RunRecord = dict(old.record) if old else {"id": input["name"]}  # type: ignore[assignment]
        if old is not None:
            record["created_at"] = old.doc["createdAt"]
        for key, target in _INPUT_FIELDS.items():
            if input.get(key) is not None:
                record[target] = input[key]  # type: ignore[literal-required]
        if input.get("notes") is None and input.get("description") is not None:
            record["notes"] = input["description"]
        if input.get("tags") is not None:
            record["tags"] = list(input["tags"])
        if input.get("config") is not None:
            record["config"] = _unwrap_config(input["config"])
        if input.get("summaryMetrics") is not None:
            summary = json.loads(input["summaryMetrics"])
            if not isinstance(summary, dict):
                raise ValueError("summaryMetrics must be a JSON object")
            record["summary"] = summary
        (stored,) = store.put_runs(project, [record])
    return {"bucket": stored.wire, "inserted": old is None, "clientMutationId": input.get("clientMutationId")}


def m_upsert_model(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = ctx(info).store
    if not input.get("name"):
        raise ValueError("upsertModel needs a name")
    project, inserted = store.ensure_project(input.get("entityName") or store.entity, input["name"],
                                             input.get("description"))
    return {"project": project.wire, "model": project.wire, "inserted": inserted}


def _by_storage_id(info: Info, storage_id: str) -> StoredRun:
    run = ctx(info).store.runs_by_storage_id.get(storage_id)
    if run is None:
        raise ValueError(f"run {storage_id!r} not found")
    return run


def m_delete_run(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    ctx(info).store.delete_run(_by_storage_id(info, input["id"]))
    return {"clientMutationId": input.get("clientMutationId")}


def m_update_run_state(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = ctx(info).store
    with store.lock:
        run = _by_storage_id(info, input["id"])
        record: RunRecord = dict(run.record)  # type: ignore[assignment]
        record["state"] = input["state"]
        record["created_at"] = run.doc["createdAt"]
        store.put_runs(run.project, [record])
    return {"success": True}


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "viewer": q_viewer, "project": q_project, "model": q_project, "models": q_models,
        "projects": q_models, "entity": q_entity, "user": q_user, "users": q_users,
        "serverInfo": q_server_info, "organization": q_none, "clientIDMapping": q_none,
    },
    "Entity": {"projects": entity_projects},
    "Project": {"runCount": p_run_count, "runs": p_runs, "run": p_run, "user": p_user},
    "Run": {
        "config": r_config, "summaryMetrics": r_summary, "historyKeys": r_history_keys,
        "history": r_history, "events": r_events, "sampledHistory": r_sampled,
        "parquetHistory": r_parquet, "project": r_project,
    },
    "Mutation": {
        "upsertBucket": m_upsert_bucket, "upsertModel": m_upsert_model, "deleteRun": m_delete_run,
        "updateRunState": m_update_run_state,
    },
}
