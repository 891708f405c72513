"""Run nodes of a listing → decoded records, with each run's metadata file when selected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wandb_frames.errors import ProtocolError
from wandb_frames.graphql.session import Session
from wandb_frames.tabular import decode_run_nodes, loads_wandb_json

__all__ = ["METADATA_FILE", "decode_nodes", "download_metadata", "metadata_url"]

METADATA_FILE = "wandb-metadata.json"


def metadata_url(node: Mapping[str, Any]) -> str | None:
    """The download URL of ``wandb-metadata.json`` among a node's selected ``files``, if any."""
    files = node.get("files")
    if not isinstance(files, Mapping):
        return None
    for edge in files.get("edges") or ():
        file = (edge or {}).get("node") or {}
        if file.get("name") == METADATA_FILE:
            url = file.get("url") or file.get("directUrl")
            return url if isinstance(url, str) and url else None
    return None


def download_metadata(session: Session, url: str | None) -> dict[str, Any]:
    """Download and parse one run's metadata file (``{}`` without a URL)."""
    if url is None:
        return {}
    value = loads_wandb_json(session.transport.get_bytes(url, what=METADATA_FILE))
    if not isinstance(value, dict):
        raise ProtocolError(f"{METADATA_FILE} is not a JSON object")
    return value


def decode_nodes(
    session: Session, nodes: Sequence[Mapping[str, Any]], entity: str, project: str
) -> list[dict[str, Any]]:
    """Decode GraphQL run nodes; when ``files`` was selected, download each run's metadata."""
    records = decode_run_nodes(nodes, entity=entity, project=project)
    if nodes and "files" in nodes[0]:
        urls = [metadata_url(node) for node in nodes]
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="wandb-frames-files") as pool:
            metas = list(pool.map(lambda u: download_metadata(session, u), urls))
        for record, meta in zip(records, metas, strict=True):
            record["metadata"] = meta
    return records
