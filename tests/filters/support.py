"""Test helpers: records → W&B-shaped documents (the oracle's input) and → runs tables (ours)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pyarrow as pa

from wandb_frames.filters import mask, parse_filter
from wandb_frames.filters.to_server import to_mongo
from wandb_frames.tabular import runs_to_table
from wandb_frames.testing.mongo import run_to_document, select_ids

ENTITY = "ent"
PROJECT = "proj"


def documents(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's documents for the records (mongomock evaluates filters over these)."""
    return [run_to_document(r, entity=ENTITY, project=PROJECT, index=i) for i, r in enumerate(records)]


def frame_run(doc: dict[str, Any]) -> dict[str, Any]:
    """A decoded run (run columns + nested config/summary/system), as the API hands to tabular."""
    return {
        "id": doc["name"],
        "name": doc["displayName"],
        "entity": doc["entity"],
        "project": doc["project"],
        "state": doc["state"],
        "created_at": doc["createdAt"].replace(tzinfo=UTC),
        "heartbeat_at": doc["heartbeatAt"].replace(tzinfo=UTC),
        "duration": doc["duration"],
        "tags": doc["tags"],
        "group": doc["group"],
        "job_type": doc["jobType"],
        "sweep": doc["sweep"],
        "user": doc["username"],
        "host": doc["host"],
        "notes": doc["notes"],
        "commit": doc["commit"],
        "config": {k: v["value"] for k, v in doc["config"].items()},
        "summary": doc["summary_metrics"],
        "system": doc["systemMetrics"],
    }


def table_of(records: Sequence[dict[str, Any]]) -> pa.Table:
    """The runs table of the records, built by the real path (``tabular.runs_to_table``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runs_to_table([frame_run(d) for d in documents(records)])


def strip_nulls(value: Any) -> Any:
    """Documents with explicit nulls removed (the runs frame cannot tell null from missing)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    return value


def local_ids(table: pa.Table, spec: Any) -> list[str]:
    """Run ids our local backend selects."""
    f = parse_filter(spec)
    return [str(x) for x in table.filter(mask(table, f)).column("id").to_pylist()]


def oracle_ids(records: Sequence[dict[str, Any]], spec: Any, *, null_is_missing: bool = False) -> list[str]:
    """Run ids mongomock selects over the W&B-shaped documents (our filter compiled to Mongo)."""
    f = parse_filter(spec)
    docs = documents(records)
    if null_is_missing:
        docs = [strip_nulls(d) for d in docs]
    return [str(i) for i in select_ids(to_mongo(f) if f is not None else {}, docs)]
