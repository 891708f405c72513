"""Artifact files for the official client: membership file listings, manifests, file downloads.

``artifact.files()`` sends ``ArtifactMembershipFiles`` and ``artifact.download()`` sends
``FetchArtifactManifest`` (the manifest's ``directUrl``), then ``GetArtifactMembershipFileUrls``
(each file's ``directUrl``). Files come from :class:`ArtifactRecord` ``files``; the manifest is
W&B's version-1 JSON (``contents`` maps each path to its base64 MD5 ``digest`` and ``size``).
Both are served by GET under the server's token, like parquet history.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from wandb_frames.testing.catalog import artifact_node, find_artifact, membership_node
from wandb_frames.testing.records import ArtifactRecord
from wandb_frames.testing.resolvers import Context, Info, Resolver, ctx
from wandb_frames.testing.store import ProjectStore, Store
from wandb_frames.testing.wire import backwards, connection, global_id

__all__ = ["RESOLVERS", "artifact_download", "manifest_json"]

#: The manifest's file name in W&B storage.
MANIFEST_NAME = "wandb_manifest.json"


def _raw(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _b64_md5(raw: bytes) -> str:
    return base64.b64encode(hashlib.md5(raw).digest()).decode()


def manifest_json(rec: ArtifactRecord) -> bytes:
    """The version-1 manifest of an artifact version (its ``files``, sorted by path)."""
    files = rec.get("files") or {}
    contents = {path: {"digest": _b64_md5(_raw(files[path])), "size": len(_raw(files[path]))}
                for path in sorted(files)}
    return json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                       "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents}).encode()


def _base_url(c: Context, project: ProjectStore, rec: ArtifactRecord) -> str:
    return (f"{c.base_url}/artifacts/{c.token}/{quote(project.entity)}/{quote(project.name)}/"
            f"{quote(rec['name'])}/v{rec.get('version', 0)}")


def _file_node(c: Context, project: ProjectStore, rec: ArtifactRecord, path: str, raw: bytes) -> dict[str, Any]:
    url = f"{_base_url(c, project, rec)}/files/{quote(path)}"
    md5 = _b64_md5(raw)
    return {
        "id": global_id("File", project.entity, project.name, rec["name"], rec.get("version", 0), path),
        "name": path, "displayName": path, "url": url, "directUrl": url, "sizeBytes": len(raw),
        "storagePath": f"wandb_artifacts/{rec['name']}/v{rec.get('version', 0)}/{path}",
        "mimetype": mimetypes.guess_type(path)[0] or "application/octet-stream",
        "updatedAt": artifact_node(project, rec)["createdAt"], "digest": md5, "md5": md5,
    }


def _record(source: Mapping[str, Any]) -> tuple[ProjectStore, ArtifactRecord]:
    node = source["artifact"] if "artifact" in source else source
    return node["__project__"], node["__artifact__"]


def membership_files(source: Mapping[str, Any], info: Info, names: list[str] | None = None,
                     first: int | None = None, after: str | None = None, **_kw: Any) -> dict[str, Any]:
    """``ArtifactCollectionMembership.files``: the version's files, sorted by path."""
    c = ctx(info)
    project, rec = _record(source)
    files = rec.get("files") or {}
    chosen = [p for p in sorted(files) if not names or p in set(names)]
    return connection(chosen, first, after, lambda p: _file_node(c, project, rec, p, _raw(files[p])), **backwards(_kw))


def collection_membership(source: Mapping[str, Any], info: Info, aliasName: str) -> Any:
    """``ArtifactCollection.artifactMembership(aliasName)``: a version by alias, ``vN`` or digest."""
    project: ProjectStore = source["__project__"]
    rec = find_artifact(project, f"{source['__collection__']}:{aliasName}")
    return None if rec is None else membership_node(project, rec)


def current_manifest(source: Mapping[str, Any], info: Info) -> dict[str, Any]:
    """``Artifact.currentManifest``: a ``File`` whose ``directUrl`` serves the manifest JSON."""
    c = ctx(info)
    project, rec = _record(source)
    url = f"{_base_url(c, project, rec)}/{MANIFEST_NAME}"
    raw = manifest_json(rec)
    md5 = _b64_md5(raw)
    return {"id": global_id("ArtifactManifest", project.entity, project.name, rec["name"], rec.get("version", 0)),
            "type": "FULL", "createdAt": artifact_node(project, rec)["createdAt"], "digest": md5,
            "file": {"id": global_id("File", url), "name": MANIFEST_NAME, "displayName": MANIFEST_NAME,
                     "url": url, "directUrl": url, "sizeBytes": len(raw), "storagePath": None,
                     "mimetype": "application/json", "updatedAt": None, "digest": md5, "md5": md5}}


def artifact_download(store: Store, parts: list[str]) -> bytes | None:
    """Bytes for ``<entity>/<project>/<name>/vN/(wandb_manifest.json | files/<path>)`` (None if unknown)."""
    if len(parts) < 5 or not parts[3].startswith("v") or not parts[3][1:].isdigit():
        return None
    project = store.project(parts[0], parts[1])
    rec = find_artifact(project, f"{parts[2]}:{parts[3]}") if project else None
    if rec is None:
        return None
    if parts[4:] == [MANIFEST_NAME]:
        return manifest_json(rec)
    if parts[4] == "files" and len(parts) > 5:
        data = (rec.get("files") or {}).get("/".join(parts[5:]))
        return None if data is None else _raw(data)
    return None


def _collection_types() -> dict[str, dict[str, Resolver]]:
    return {name: {"artifactMembership": collection_membership} for name in ("ArtifactSequence", "ArtifactPortfolio")}


RESOLVERS: dict[str, dict[str, Resolver]] = {
    **_collection_types(),
    "ArtifactCollectionMembership": {"files": membership_files},
    "Artifact": {"currentManifest": current_manifest},
}
