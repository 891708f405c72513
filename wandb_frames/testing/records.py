"""Seed records for the local server: plain Python values, stored by the server in W&B's shapes.

A *run record* is a plain ``dict`` (typed as :class:`RunRecord`). Only ``id`` is required::

    {
        "id": "a1b2c3d4",                   # the run ID (GraphQL ``name``), unique per project
        "display_name": "eager-fox-1",      # GraphQL ``displayName``; default: the id
        "state": "finished",                # running|finished|crashed|failed|killed|preempted|pending
        "created_at": datetime(...),        # tz-aware or naive (= UTC) datetime, or ISO string
        "heartbeat_at": datetime(...),      # default: created_at + runtime
        "config": {"lr": 0.01, "model": {"layers": 4}},   # plain nested dict, NOT wrapped;
                                            # the server wraps each top-level key as {"value": v, "desc": null}
        "summary": {"loss": 0.1, "img": {"_type": "image-file", ...}, "x": float("nan")},
        "system_metrics": {"cpu": 12.5},
        "tags": ["baseline"],               # default: [] (W&B sends null for untagged runs: we send [])
        "group": "g1", "job_type": "train", "sweep": "sw1" (a sweep *name*/id in the project),
        "user": "alice",                    # username; default: the entity's user
        "host": "node-1", "notes": "…", "commit": "abc123",
        "history": [{"_step": 0, "_runtime": 1.0, "_timestamp": 1.7e9, "loss": 1.0}, ...],
                                            # rows may be sparse; ``_step`` strictly increasing is NOT required
        "system_history": [{"_runtime": 1.0, "_timestamp": 1.7e9, "system.cpu": 10.0}, ...],
        "files": {"wandb-metadata.json": "{...}", "output.log": "..."},   # name -> text or bytes
    }

Sweep, artifact and report records are documented on :class:`SweepRecord`,
:class:`ArtifactRecord` and :class:`ReportRecord`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NotRequired, Required, TypedDict

__all__ = [
    "ArtifactRecord",
    "ReportRecord",
    "RunRecord",
    "RunState",
    "SweepRecord",
]

RunState = Literal[
    "running", "finished", "crashed", "failed", "killed", "preempting", "preempted", "pending"
]


class RunRecord(TypedDict, total=False):
    """One run, as plain Python values (see the module docstring)."""

    id: Required[str]
    display_name: str
    state: str
    created_at: datetime | str
    heartbeat_at: datetime | str
    config: dict[str, Any]
    summary: dict[str, Any]
    system_metrics: dict[str, Any]
    tags: list[str]
    group: str | None
    job_type: str | None
    sweep: str | None
    user: str
    host: str | None
    notes: str | None
    commit: str | None
    history: Sequence[dict[str, Any]]  # a list; offline runs: a HistoryRows (wandb_frames.offline.columns)
    system_history: list[dict[str, Any]]
    files: dict[str, str | bytes]


class SweepRecord(TypedDict, total=False):
    """One sweep: ``id`` is the sweep name used in paths and in runs' ``sweep`` field."""

    id: Required[str]
    display_name: str
    method: str  # grid|random|bayes
    state: str  # RUNNING|FINISHED|...
    config: dict[str, Any]  # the sweep's search space, e.g. {"metric": {...}, "parameters": {...}}
    created_at: datetime | str
    run_count_expected: int | None
    description: str | None


class ArtifactRecord(TypedDict, total=False):
    """One artifact version in a collection ``name`` of type ``type``."""

    name: Required[str]  # collection name
    type: Required[str]  # artifact type name, e.g. "model", "dataset"
    version: int  # version index; default: next free index in the collection
    aliases: list[str]  # e.g. ["latest", "best"]; "latest" is maintained by the server
    digest: str
    size: int
    description: str | None
    metadata: dict[str, Any]
    created_at: datetime | str
    logged_by: str | None  # run id that logged (output) it
    used_by: list[str]  # run ids that used (input) it
    files: NotRequired[dict[str, str | bytes]]


class ReportRecord(TypedDict, total=False):
    """One report (a W&B "view" of type ``runs``)."""

    id: Required[str]
    name: str  # the view's internal name
    display_name: str
    description: str
    user: str
    spec: dict[str, Any]
    created_at: datetime | str
    updated_at: datetime | str
