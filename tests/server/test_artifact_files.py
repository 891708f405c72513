"""Artifact files as the official client reads them: membership file listings, manifest, downloads.

The documents are wandb 0.31.0's own (``wandb.sdk.artifacts._generated.operations``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from server_support import Client

from wandb_frames.testing import LocalServer

ops = pytest.importorskip("wandb.sdk.artifacts._generated.operations")
E, P = "ent", "arts"
FILES: dict[str, str | bytes] = {"a.txt": "hello", "dir/b.bin": b"\x00\x01\x02", "c.json": '{"x": 1}'}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalServer() as server:
        server.add_artifacts(E, P, [{"name": "ds", "type": "dataset", "files": FILES},
                                    {"name": "ds", "type": "dataset", "aliases": ["best"]}])
        yield Client(server)


def _ok(client: Client, doc: str, variables: dict[str, Any]) -> Any:
    body = client(doc, variables)
    assert "errors" not in body, body
    return body["data"]


def _files(client: Client, alias: str, **extra: Any) -> Any:
    variables = {"entity": E, "project": P, "collection": "ds", "alias": alias, "cursor": None, **extra}
    data = _ok(client, ops.ARTIFACT_MEMBERSHIP_FILES_GQL, variables)
    membership = data["project"]["artifactCollection"]["artifactMembership"]
    return None if membership is None else membership["files"]


def test_membership_files_list_the_version_files(client: Client) -> None:
    files = _files(client, "v0", perPage=2)
    assert files["totalCount"] == 3 and files["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in files["edges"]] == ["a.txt", "c.json"]
    node = files["edges"][0]["node"]
    assert node["sizeBytes"] == 5 and node["storagePath"]
    assert node["md5"] == base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    assert requests.get(node["directUrl"], timeout=10).content == b"hello"
    named = _files(client, "v0", fileNames=["dir/b.bin"])
    assert [e["node"]["name"] for e in named["edges"]] == ["dir/b.bin"]
    assert requests.get(named["edges"][0]["node"]["url"], timeout=10).content == b"\x00\x01\x02"


def test_membership_by_alias_and_missing(client: Client) -> None:
    assert _files(client, "best")["totalCount"] == 0
    assert _files(client, "latest")["totalCount"] == 0
    assert _files(client, "v9") is None


def test_manifest_lists_digests_and_sizes(client: Client) -> None:
    member = _ok(client, ops.ARTIFACT_MEMBERSHIP_BY_NAME_GQL, {"entity": E, "project": P, "name": "ds:v0"})
    art_id = member["project"]["artifactCollectionMembership"]["artifact"]["id"]
    data = _ok(client, ops.FETCH_ARTIFACT_MANIFEST_GQL, {"id": art_id})
    manifest = requests.get(data["artifact"]["currentManifest"]["file"]["directUrl"], timeout=10).json()
    assert manifest["version"] == 1 and manifest["storagePolicy"] == "wandb-storage-policy-v1"
    raw = {k: v.encode() if isinstance(v, str) else v for k, v in FILES.items()}
    assert manifest["contents"] == {
        k: {"digest": base64.b64encode(hashlib.md5(v).digest()).decode(), "size": len(v)} for k, v in raw.items()}


def test_unknown_artifact_file_is_404(client: Client) -> None:
    url = _files(client, "v0")["edges"][0]["node"]["directUrl"]
    assert requests.get(url.replace("a.txt", "nope.txt"), timeout=10).status_code == 404
    assert requests.get(url.replace("/v0/", "/v7/"), timeout=10).status_code == 404
