"""Resolvers for sweeps, reports (views), run files, console logs and artifacts."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from mongomock.filtering import filter_applies

from wandb_frames.testing import mongo
from wandb_frames.testing.records import ArtifactRecord, SweepRecord
from wandb_frames.testing.resolvers import Info, Resolver, ctx
from wandb_frames.testing.store import ProjectStore, decode_filters
from wandb_frames.testing.wire import backwards, connection, decode_global_id, dumps, global_id, iso

__all__ = ["RESOLVERS", "artifact_digest", "artifact_node", "find_artifact", "like_to_regex",
           "membership_node", "normalize_artifacts", "sweep_config_text"]


def _project(source: Mapping[str, Any]) -> ProjectStore:
    project: ProjectStore = source["__project__"]
    return project


def _iso(value: Any) -> str:
    return iso(mongo.parse_datetime(value, mongo.parse_datetime("2024-01-01T00:00:00")))


# ---------------------------------------------------------------- sweeps


def sweep_config_text(config: Any) -> str:
    """A sweep config as W&B sends it: YAML text (``yaml.safe_dump``, keys in insertion order).

    The official client parses ``Sweep.config`` with ``yaml.safe_load`` (YAML 1.1, where JSON's
    ``1e-05`` is a string), so JSON text would change values. PyYAML comes with the ``server``
    extra (and with wandb); it is imported here, lazily.
    """
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional: only to serve sweeps

    return str(yaml.safe_dump(config, sort_keys=False))


def sweep_node(project: ProjectStore, rec: SweepRecord) -> dict[str, Any]:
    """The GraphQL source of a sweep."""
    name = rec["id"]
    runs = [r for r in project.runs.values() if r.doc["sweep"] == name]
    config = rec.get("config", {})
    metric = config.get("metric") if isinstance(config, dict) else None
    best = None
    if isinstance(metric, dict) and isinstance(metric.get("name"), str):
        values = [r.record.get("summary", {}).get(metric["name"]) for r in runs]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool) and v == v]
        if numbers:
            best = float(max(numbers) if metric.get("goal") == "maximize" else min(numbers))
    return {
        "__project__": project, "__sweep__": name,
        "id": global_id("Sweep", project.entity, project.name, name),
        "name": name, "displayName": rec.get("display_name", name), "method": rec.get("method", "random"),
        "state": rec.get("state", "FINISHED"), "description": rec.get("description"), "bestLoss": best,
        "config": sweep_config_text(config), "createdAt": _iso(rec.get("created_at")),
        "updatedAt": _iso(rec.get("created_at")), "runCount": len(runs),
        "runCountExpected": rec.get("run_count_expected"), "agents": {"edges": []}, "agent": None,
    }


def p_total_sweeps(source: Mapping[str, Any], info: Info) -> int:
    return len(_project(source).sweeps)


def p_sweeps(source: Mapping[str, Any], info: Info, filters: Any = None, first: int | None = None,
             after: str | None = None, **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    spec = decode_filters(filters)
    nodes = [sweep_node(project, rec) for rec in project.sweeps.values()]
    if spec:
        nodes = [n for n in nodes if filter_applies(spec, n)]  # type: ignore[no-untyped-call]
    return connection(nodes, first, after, **backwards(_kw))


def p_sweep(source: Mapping[str, Any], info: Info, sweepName: str) -> Any:
    project = _project(source)
    rec = project.sweeps.get(sweepName)
    return None if rec is None else sweep_node(project, rec)


def s_runs(source: Mapping[str, Any], info: Info, filters: Any = None, order: str | None = None,
           first: int | None = None, after: str | None = None, **_kw: Any) -> dict[str, Any]:
    runs = ctx(info).store.select(_project(source), filters, order, {"sweep": source["__sweep__"]})
    return connection(runs, first, after, lambda r: r.wire, **backwards(_kw))


def r_sweep(source: Mapping[str, Any], info: Info) -> Any:
    run = source["__run__"]
    name = run.doc["sweep"]
    rec = run.project.sweeps.get(name) if name else None
    return None if rec is None else sweep_node(run.project, rec)


# ---------------------------------------------------------------- reports


def p_all_views(source: Mapping[str, Any], info: Info, viewType: str | None = "runs",
                viewName: str | None = None, first: int | None = None, after: str | None = None,
                **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    viewer = ctx(info).viewer()
    if viewType not in (None, "runs"):
        return connection([], first, after)
    nodes = []
    for rec in project.reports:
        name = rec.get("name", rec["id"])
        if viewName and viewName != name:
            continue
        user = rec.get("user", viewer["username"])
        nodes.append({
            "id": rec["id"], "name": name, "displayName": rec.get("display_name", name),
            "description": rec.get("description", ""), "type": "runs", "spec": dumps(rec.get("spec", {})),
            "user": {**viewer, "id": global_id("User", user), "name": user, "username": user},
            "createdAt": _iso(rec.get("created_at")),
            "updatedAt": _iso(rec.get("updated_at", rec.get("created_at"))),
        })
    return connection(nodes, first, after, **backwards(_kw))


# ---------------------------------------------------------------- files and logs


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex for a SQL LIKE pattern (``%`` any run, ``_`` one char, ``\\`` escapes)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def r_files(source: Mapping[str, Any], info: Info, names: list[str | None] | None = None,
            pattern: str | None = None, first: int | None = None, after: str | None = None,
            **_kw: Any) -> dict[str, Any]:
    c = ctx(info)
    run = source["__run__"]
    files: dict[str, str | bytes] = run.record.get("files") or {}
    chosen = sorted(files)
    wanted = [n for n in names or [] if n]
    if wanted:
        chosen = [n for n in chosen if n in set(wanted)]
    if pattern:
        rx = like_to_regex(pattern)
        chosen = [n for n in chosen if rx.fullmatch(n)]
    p = run.project

    def node(name: str) -> dict[str, Any]:
        data = files[name]
        raw = data.encode() if isinstance(data, str) else data
        url = f"{c.base_url}/files/{c.token}/{quote(p.entity)}/{quote(p.name)}/{quote(run.run_id)}/{quote(name)}"
        md5 = base64.b64encode(hashlib.md5(raw).digest()).decode()
        return {
            "id": global_id("File", p.entity, p.name, run.run_id, name), "name": name, "url": url,
            "directUrl": url, "sizeBytes": len(raw), "mimetype": mimetypes.guess_type(name)[0] or "text/plain",
            "updatedAt": run.wire["heartbeatAt"], "md5": md5, "digest": md5,
        }

    return connection(chosen, first, after, node, **backwards(_kw))


def _log_lines(source: Mapping[str, Any]) -> list[str]:
    data = (source["__run__"].record.get("files") or {}).get("output.log", "")
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.splitlines()


def r_log_line_count(source: Mapping[str, Any], info: Info) -> int:
    return len(_log_lines(source))


def r_log_lines(source: Mapping[str, Any], info: Info, offset: int | None = None,
                after: str | None = None, first: int | None = None, last: int | None = None,
                **_kw: Any) -> dict[str, Any]:
    lines = [
        {"number": i, "timestamp": None, "level": "INFO", "label": None, "line": line}
        for i, line in enumerate(_log_lines(source))
    ]
    return connection(lines, first, after, last=last, before=_kw.get("before"))


# ---------------------------------------------------------------- artifacts


def normalize_artifacts(existing: list[ArtifactRecord], new: list[ArtifactRecord]) -> list[ArtifactRecord]:
    """Append artifact versions: fill in ``version`` and keep ``latest`` on the newest one."""
    out = list(existing)
    for rec in new:
        if not rec.get("name") or not rec.get("type"):
            raise ValueError("every artifact record needs 'name' and 'type'")
        same = [a for a in out if a["name"] == rec["name"]]
        item: ArtifactRecord = dict(rec)  # type: ignore[assignment]
        item.setdefault("version", max((a.get("version", 0) for a in same), default=-1) + 1)
        item["aliases"] = [a for a in rec.get("aliases", []) if a != "latest"]
        out.append(item)
    for name in {a["name"] for a in out}:
        same = [a for a in out if a["name"] == name]
        newest = max(a.get("version", 0) for a in same)
        for a in same:
            aliases = [x for x in a.get("aliases", []) if x != "latest"]
            a["aliases"] = aliases + (["latest"] if a.get("version", 0) == newest else [])
    return out


def type_node(project: ProjectStore, name: str) -> dict[str, Any]:
    created = min((_iso(a.get("created_at")) for a in project.artifacts if a["type"] == name), default=None)
    return {"__project__": project, "__type__": name, "id": global_id("ArtifactType", project.entity,
            project.name, name), "name": name, "description": None, "createdAt": created or _iso(None),
            "project": project.wire}


def collection_node(project: ProjectStore, name: str) -> dict[str, Any]:
    versions = [a for a in project.artifacts if a["name"] == name]
    times = sorted(_iso(a.get("created_at")) for a in versions)
    return {
        "__project__": project, "__collection__": name,
        "id": global_id("ArtifactCollection", project.entity, project.name, name), "name": name,
        "description": None, "createdAt": times[0], "updatedAt": times[-1], "project": project.wire,
        "defaultArtifactType": type_node(project, versions[0]["type"]),
        "tags": {"edges": [], "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}},
    }


def artifact_digest(rec: ArtifactRecord) -> str:
    """The version's digest: the record's ``digest``, else a stable hash of ``name:version``."""
    return rec.get("digest") or hashlib.md5(f"{rec['name']}:{rec.get('version', 0)}".encode()).hexdigest()


def artifact_node(project: ProjectStore, rec: ArtifactRecord) -> dict[str, Any]:
    coll = collection_node(project, rec["name"])
    version = rec.get("version", 0)
    aliases = [{"id": global_id("ArtifactAlias", rec["name"], a), "alias": a, "artifactCollection": coll,
                "artifactCollectionName": rec["name"]} for a in rec.get("aliases", [])]
    digest = artifact_digest(rec)
    return {
        "__project__": project, "__artifact__": rec,
        "id": global_id("Artifact", project.entity, project.name, rec["name"], version), "digest": digest,
        "digestAlgorithm": "MANIFEST_MD5", "description": rec.get("description"), "commitHash": digest[:12],
        "versionIndex": version, "aliases": aliases, "metadata": dumps(rec.get("metadata", {})),
        "state": "COMMITTED", "size": rec.get("size", 0), "fileCount": len(rec.get("files", {})),
        "ttlDurationSeconds": -1, "ttlIsInherited": True, "historyStep": None, "tags": [],
        "artifactType": type_node(project, rec["type"]), "artifactSequence": coll,
        "createdAt": _iso(rec.get("created_at")), "updatedAt": _iso(rec.get("created_at")),
    }


def find_artifact(project: ProjectStore, spec: str) -> ArtifactRecord | None:
    """``name:vN``, ``name:<alias>``, ``name:<digest>``, a bare ``<digest>``, or ``name`` (= latest).

    The official client sends ``api.artifact("e/p/<digest>")`` as the membership name
    ``<digest>`` and ``e/p/name:<digest>`` as ``name:<digest>``; a version index or an alias
    wins over a digest that happens to look the same.
    """
    if ":" not in spec:
        by_digest = next((a for a in project.artifacts if artifact_digest(a) == spec), None)
        if by_digest is not None:
            return by_digest
    name, _, alias = spec.rpartition(":") if ":" in spec else (spec, "", "latest")
    versions = [a for a in project.artifacts if a["name"] == name]
    if re.fullmatch(r"v\d+", alias):
        return next((a for a in versions if a.get("version", 0) == int(alias[1:])), None)
    found = next((a for a in versions if alias in a.get("aliases", [])), None)
    return found or next((a for a in versions if artifact_digest(a) == alias), None)


def membership_node(project: ProjectStore, rec: ArtifactRecord) -> dict[str, Any]:
    """The GraphQL source of an ``ArtifactCollectionMembership`` (the version in its own collection)."""
    node = artifact_node(project, rec)
    return {"id": global_id("Membership", node["id"]), "versionIndex": node["versionIndex"],
            "createdAt": node["createdAt"], "commitHash": node["commitHash"], "aliases": node["aliases"],
            "artifactCollection": node["artifactSequence"], "artifact": node}


def p_membership(source: Mapping[str, Any], info: Info, name: str) -> Any:
    project = _project(source)
    rec = find_artifact(project, name)
    return None if rec is None else membership_node(project, rec)


def p_artifact(source: Mapping[str, Any], info: Info, name: str, **_kw: Any) -> Any:
    rec = find_artifact(_project(source), name)
    return None if rec is None else artifact_node(_project(source), rec)


def p_artifact_types(source: Mapping[str, Any], info: Info, first: int | None = None,
                     after: str | None = None, **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    names = list(dict.fromkeys(a["type"] for a in project.artifacts))
    return connection(names, first, after, lambda n: type_node(project, n), **backwards(_kw))


def p_artifact_type(source: Mapping[str, Any], info: Info, name: str) -> Any:
    project = _project(source)
    return type_node(project, name) if any(a["type"] == name for a in project.artifacts) else None


def collections(source: Mapping[str, Any], info: Info, first: int | None = None,
                after: str | None = None, **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    kind = source.get("__type__")
    names = list(dict.fromkeys(a["name"] for a in project.artifacts if kind in (None, a["type"])))
    return connection(names, first, after, lambda n: collection_node(project, n), **backwards(_kw))


def collection(source: Mapping[str, Any], info: Info, name: str) -> Any:
    project = _project(source)
    kind = source.get("__type__")
    hit = any(a["name"] == name and kind in (None, a["type"]) for a in project.artifacts)
    return collection_node(project, name) if hit else None


def c_artifacts(source: Mapping[str, Any], info: Info, first: int | None = None,
                after: str | None = None, **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    versions = sorted((a for a in project.artifacts if a["name"] == source["__collection__"]),
                      key=lambda a: -a.get("version", 0))
    return connection(versions, first, after, lambda a: artifact_node(project, a),
                      lambda a, _i: {"version": f"v{a.get('version', 0)}"}, **backwards(_kw))


def run_artifacts(output: bool) -> Resolver:
    def resolve(source: Mapping[str, Any], info: Info, first: int | None = None,
                after: str | None = None, **_kw: Any) -> dict[str, Any]:
        run = source["__run__"]
        project = run.project
        recs = [a for a in project.artifacts
                if (a.get("logged_by") == run.run_id if output else run.run_id in a.get("used_by", []))]
        extra: Callable[[ArtifactRecord, int], dict[str, Any]] | None = (
            None if output else (lambda _a, _i: {"usedAs": []}))
        return connection(recs, first, after, lambda a: artifact_node(project, a), extra, **backwards(_kw))
    return resolve


def a_created_by(source: Mapping[str, Any], info: Info) -> Any:
    run = _project(source).runs.get(source["__artifact__"].get("logged_by") or "")
    return None if run is None else run.wire


def a_used_by(source: Mapping[str, Any], info: Info, first: int | None = None,
              after: str | None = None, **_kw: Any) -> dict[str, Any]:
    project = _project(source)
    runs = [project.runs[i] for i in source["__artifact__"].get("used_by", []) if i in project.runs]
    return connection(runs, first, after, lambda r: r.wire, **backwards(_kw))


def _lookup(info: Info, ident: str, kind: str) -> tuple[ProjectStore, list[str]] | None:
    parts = decode_global_id(ident)
    if len(parts) < 4 or parts[0] != kind:
        return None
    project = ctx(info).store.project(parts[1], parts[2])
    return None if project is None else (project, parts[3:])


def q_artifact(_: Any, info: Info, id: str) -> Any:
    found = _lookup(info, id, "Artifact")
    if found is None or len(found[1]) != 2:
        return None
    project, (name, version) = found
    rec = find_artifact(project, f"{name}:v{version}")
    return None if rec is None else artifact_node(project, rec)


def q_collection(_: Any, info: Info, id: str) -> Any:
    found = _lookup(info, id, "ArtifactCollection")
    if found is None:
        return None
    project, (name, *_rest) = found
    return collection_node(project, name) if any(a["name"] == name for a in project.artifacts) else None


def resolve_type(value: Mapping[str, Any], *_: Any) -> str:
    """Concrete type of an interface/union value."""
    for key, name in (("__run__", "Run"), ("__artifact__", "Artifact"), ("__collection__", "ArtifactSequence"),
                      ("__sweep__", "Sweep"), ("__project__", "Project")):
        if key in value:
            return name
    return "User"


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {"artifact": q_artifact, "artifactCollection": q_collection},
    "Project": {
        "totalSweeps": p_total_sweeps, "sweeps": p_sweeps, "sweep": p_sweep, "allViews": p_all_views,
        "artifactCollectionMembership": p_membership, "artifact": p_artifact,
        "artifactTypes": p_artifact_types, "artifactType": p_artifact_type,
        "artifactCollections": collections, "artifactCollection": collection,
    },
    "Sweep": {"runs": s_runs},
    "Run": {
        "sweep": r_sweep, "files": r_files, "logLines": r_log_lines, "logLineCount": r_log_line_count,
        "outputArtifacts": run_artifacts(True), "inputArtifacts": run_artifacts(False),
    },
    "ArtifactType": {"artifactCollections": collections, "artifactCollection": collection},
    "ArtifactSequence": {"artifacts": c_artifacts},
    "ArtifactPortfolio": {"artifacts": c_artifacts},
    "Artifact": {"createdBy": a_created_by, "usedBy": a_used_by},
}
