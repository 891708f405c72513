"""The same seeded project read by wandb-frames and by the official wandb 0.31.0 client.

Run by run, the wandb-frames runs table (``Api.runs(path).to_arrow()``) must hold the values
the official client returns: run fields, ``config`` after the official unwrapping, and
``run.summary._json_dict`` / ``run.system_metrics``, flattened with ``.`` the way
``docs/architecture.md`` specifies (``_type`` media dicts and lists are leaves; JSON-text
columns, marked by the ``wandb_frames.encoding`` field metadata, are decoded first).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pytest
from conformance_support import ENTITY, PROJECT, as_utc, same

from wandb_frames.errors import WandbFramesWarning
from wandb_frames.testing import LocalServer

PATH = f"{ENTITY}/{PROJECT}"
_ENCODING = b"wandb_frames.encoding"
_SECTIONS = {"config": "config", "summary": "summary", "system": "system"}


@pytest.fixture(scope="module")
def frames_api(server: LocalServer) -> Any:
    from wandb_frames.api import Api

    return Api(overrides={"base_url": server.url}, api_key=server.api_key, progress=False)


def _flatten(prefix: str, value: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if isinstance(item, Mapping) and item and "_type" not in item:
            yield from _flatten(name, item)
        else:
            yield name, item


def _official_row(run: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": run.id, "name": run.name, "state": run.state, "tags": list(run.tags or []),
        "group": run.group, "job_type": run.job_type, "sweep": run.sweep_name,
        "user": run.user.username if run.user else None, "notes": run.notes, "commit": run.commit,
        "entity": run.entity, "project": run.project,
        "created_at": as_utc(run.created_at),
        "heartbeat_at": as_utc(run.heartbeat_at) if run.heartbeat_at else None,
    }
    row.update(_flatten("config", dict(run.config)))
    row.update(_flatten("summary", run.summary._json_dict))
    row.update(_flatten("system", run.system_metrics or {}))
    return row


def _frames_rows(table: pa.Table) -> list[dict[str, Any]]:
    json_cols = {f.name for f in table.schema
                 if f.metadata is not None and f.metadata.get(_ENCODING) == b"json"}
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        for name in json_cols:
            if row[name] is not None:
                row[name] = json.loads(row[name])
    return rows


def _read_frames(frames_api: Any, **kwargs: Any) -> pa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WandbFramesWarning)  # mixed-kind columns are expected
        return frames_api.runs(PATH, **kwargs).to_arrow()


def _compare(frame_row: dict[str, Any], official: dict[str, Any]) -> list[str]:
    diffs = []
    for name, value in frame_row.items():
        if name.split(".", 1)[0] in _SECTIONS and "." in name:
            expected = official.get(name)
        elif name in official:
            expected = official[name]
        else:
            continue  # run columns the official Run lacks (host, duration): not compared
        if name in ("created_at", "heartbeat_at"):
            if (value is None) != (expected is None) or (value and as_utc(value) != expected):
                diffs.append(f"{frame_row['id']} {name}: {value!r} != {expected!r}")
            continue
        diffs += same(value, expected, f"{frame_row['id']} {name}")
    missing = {k for k in official if k.split(".", 1)[0] in _SECTIONS and "." in k} - set(frame_row)
    diffs += [f"{frame_row['id']}: column {k} missing from the frame" for k in sorted(missing)]
    return diffs


def test_same_values_run_by_run(frames_api: Any, api: Any) -> None:
    table = _read_frames(frames_api)
    official = {run.id: _official_row(run) for run in api.runs(PATH, lazy=False, per_page=100)}
    rows = _frames_rows(table)
    assert sorted(r["id"] for r in rows) == sorted(official)
    diffs = [d for row in rows for d in _compare(row, official[row["id"]])]
    assert diffs == []


def test_same_ids_for_filter_and_order(frames_api: Any, api: Any) -> None:
    filters = {"$and": [{"state": "finished"}, {"config.model.layers": {"$gte": 4}}]}
    order = "-summary_metrics.acc"
    table = _read_frames(frames_api, filters=filters, order=order)
    official = [run.id for run in api.runs(PATH, filters=filters, order=order)]
    assert official
    assert table.column("id").to_pylist() == official
