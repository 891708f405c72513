"""The server's independent filter engine: W&B-shaped Mongo documents evaluated by mongomock.

Pure functions (no I/O). The key rules mimic what is known of W&B's backend
(protocol notes §8):

- ``config.X[.sub…]`` ≡ ``config.X.value[.sub…]`` (``.value`` inserted after the top-level key);
- ``summary_metrics.X…`` as is; ``summary.X…`` → HTTP 400 (W&B: "gorilla returns a 400");
- ``system_metrics.X`` / ``systemMetrics.X`` → ``systemMetrics.X``;
- camelCase and snake_case run keys (``created_at``/``createdAt``, ``display_name``/``displayName``,
  ``job_type``/``jobType``, ``heartbeat_at``/``heartbeatAt``, ``updated_at``/``updatedAt``);
- ``name`` is the run ID, ``displayName`` the display name; ``duration`` = compute seconds;
- date keys compare as dates: ISO strings in the filter become naive-UTC datetimes;
- a bare list as the value of ``tags`` → HTTP 500 ``unsupported type []interface {}``;
- ``$all`` anywhere → HTTP 500 (W&B answers 500, issue #5967);
- unknown keys match nothing (W&B: ``id`` and ``Name`` give 0 runs, not an error).

NaN: mongomock compares NaN with ``==`` semantics of Python, so ``{"x": NaN}`` does **not**
match a NaN value and NaN is neither ``$gt`` nor ``$lt`` any number (MongoDB itself treats
NaN == NaN and sorts NaN below every number). Our ``order`` follows MongoDB (NaN first
ascending, after missing/null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mongomock.filtering import filter_applies

from wandb_frames.errors import WandbFramesError
from wandb_frames.testing.records import RunRecord

__all__ = [
    "ServerFilterError",
    "normalize_filter",
    "normalize_key",
    "parse_datetime",
    "run_to_document",
    "select_ids",
    "sort_key",
]

#: user key -> document key for plain run columns.
RUN_KEYS: dict[str, str] = {
    "name": "name",
    "displayName": "displayName",
    "display_name": "displayName",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "heartbeatAt": "heartbeatAt",
    "heartbeat_at": "heartbeatAt",
    "updatedAt": "updatedAt",
    "updated_at": "updatedAt",
    "jobType": "jobType",
    "job_type": "jobType",
    "state": "state",
    "group": "group",
    "host": "host",
    "username": "username",
    "sweep": "sweep",
    "duration": "duration",
    "tags": "tags",
    "entity": "entity",
    "project": "project",
    "notes": "notes",
    "commit": "commit",
}
DATE_KEYS = frozenset({"createdAt", "heartbeatAt", "updatedAt"})
#: Document key that never exists: unknown user keys are rewritten to it (matches nothing).
NOTHING_KEY = "__wandb_frames_unknown_key__"
_LOGICAL = frozenset({"$and", "$or", "$nor"})
_EPOCH = datetime(2024, 1, 1)


class ServerFilterError(WandbFramesError):
    """A filter the simulated W&B backend rejects, with the HTTP status W&B answers."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


def parse_datetime(value: datetime | str | None, default: datetime | None = None) -> datetime:
    """Return a naive UTC datetime from a datetime (naive = UTC) or an ISO-8601 string.

    Raises:
        ValueError: the string is not ISO-8601 (or ``value`` is None without a default).
    """
    if value is None:
        if default is None:
            raise ValueError("no datetime given")
        return default
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def runtime_seconds(record: RunRecord) -> float:
    """Runtime of a run: ``summary._runtime``, else the last history ``_runtime``, else 0."""
    value = record.get("summary", {}).get("_runtime")
    if not isinstance(value, int | float) or isinstance(value, bool):
        history = record.get("history") or []
        value = history[-1].get("_runtime", 0.0) if history else 0.0
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return 0.0
    return float(value)


def run_times(record: RunRecord, index: int = 0) -> tuple[datetime, datetime, float]:
    """``(created_at, heartbeat_at, duration_seconds)`` of a record, as naive UTC datetimes."""
    created = parse_datetime(record.get("created_at"), _EPOCH + timedelta(seconds=index))
    runtime = runtime_seconds(record)
    heartbeat = parse_datetime(record.get("heartbeat_at"), created + timedelta(seconds=runtime))
    duration = runtime if runtime else max((heartbeat - created).total_seconds(), 0.0)
    return created, heartbeat, duration


def run_to_document(
    record: RunRecord, *, entity: str, project: str, index: int = 0, username: str = "local-user"
) -> dict[str, Any]:
    """Return the W&B-shaped Mongo document of a run.

    Config keys are wrapped as ``{"value": v, "desc": None}``; the summary lives under
    ``summary_metrics``, system metrics under ``systemMetrics``; dates are naive-UTC datetimes;
    ``tags`` is always a list. ``index`` only feeds the default ``created_at``.
    """
    created, heartbeat, duration = run_times(record, index)
    return {
        "name": record["id"],
        "displayName": record.get("display_name", record["id"]),
        "state": record.get("state", "finished"),
        "createdAt": created,
        "heartbeatAt": heartbeat,
        "updatedAt": heartbeat,
        "duration": duration,
        "tags": list(record.get("tags") or []),
        "group": record.get("group"),
        "jobType": record.get("job_type"),
        "sweep": record.get("sweep"),
        "host": record.get("host"),
        "username": record.get("user", username),
        "entity": entity,
        "project": project,
        "notes": record.get("notes"),
        "commit": record.get("commit"),
        "config": {k: {"value": v, "desc": None} for k, v in record.get("config", {}).items()},
        "summary_metrics": dict(record.get("summary", {})),
        "systemMetrics": dict(record.get("system_metrics", {})),
    }


def normalize_key(key: str) -> str | None:
    """Map a user filter/order key to its document path; None when the key is unknown.

    Raises:
        ServerFilterError: 400 for ``summary``/``summary.X`` keys.
    """
    if key in RUN_KEYS:
        return RUN_KEYS[key]
    if key == NOTHING_KEY:
        return key
    head, _, rest = key.partition(".")
    if head == "summary":
        raise ServerFilterError(
            400, f"invalid filter key {key!r}: use summary_metrics.<key> instead of summary.<key>"
        )
    if not rest:
        return None
    if head == "config":
        parts = rest.split(".")
        if len(parts) == 1 or parts[1] != "value":
            parts.insert(1, "value")
        return "config." + ".".join(parts)
    if head == "summary_metrics":
        return key
    if head in ("systemMetrics", "system_metrics"):
        return "systemMetrics." + rest
    return None


def _convert_dates(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_convert_dates(v) for v in value]
    if isinstance(value, dict):
        return {k: _convert_dates(v) if k.startswith("$") else v for k, v in value.items()}
    return value


def _check_operand(key: str, value: Any) -> None:
    if isinstance(value, dict):
        if "$all" in value:
            raise ServerFilterError(500, "unsupported operator $all")
        for op, operand in value.items():
            if not op.startswith("$"):
                continue
            if op in ("$in", "$nin") and not isinstance(operand, list):
                raise ServerFilterError(400, f"{op} needs an array (key {key!r})")
    elif key == "tags" and isinstance(value, list):
        raise ServerFilterError(500, "unsupported type []interface {}")


def normalize_filter(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Apply W&B's key rules to a filter (idempotent).

    Raises:
        ServerFilterError: for the cases where W&B answers 400/500 (see the module docstring).
    """
    if not isinstance(filters, Mapping):
        raise ServerFilterError(400, "filters must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if not isinstance(key, str):
            raise ServerFilterError(400, "filter keys must be strings")
        if key in _LOGICAL:
            if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
                raise ServerFilterError(400, f"{key} needs an array of objects")
            out[key] = [normalize_filter(v) for v in value]
            continue
        if key == "$all":
            raise ServerFilterError(500, "unsupported operator $all")
        if key.startswith("$"):
            out[key] = value
            continue
        path = normalize_key(key)
        if path is None:
            out[NOTHING_KEY] = {"$exists": True}
            continue
        _check_operand(path, value)
        if path in DATE_KEYS:
            value = _convert_dates(value)
        if path in out and path != NOTHING_KEY:
            out.setdefault("$and", []).append({path: value})
        else:
            out[path] = value
    return out


def select_ids(filters: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Run IDs (``name``) of the documents matching ``filters``, in input order.

    ``filters`` goes through :func:`normalize_filter` first (it is idempotent).

    Raises:
        ServerFilterError: for filters W&B rejects.
    """
    spec = normalize_filter(filters)
    if not spec:
        return [str(doc["name"]) for doc in documents]
    try:
        return [str(doc["name"]) for doc in documents if filter_applies(spec, doc)]  # type: ignore[no-untyped-call]
    except (TypeError, ValueError, KeyError, NotImplementedError) as exc:
        raise ServerFilterError(400, f"invalid filter: {exc}") from exc
    except Exception as exc:  # mongomock raises its own OperationFailure/NotImplementedError types
        if type(exc).__module__.startswith("mongomock"):
            raise ServerFilterError(400, f"invalid filter: {exc}") from exc
        raise


_TYPE_RANK = {type(None): 0, int: 1, float: 1, str: 2, dict: 3, list: 4, bool: 5, datetime: 6}


def sort_key(value: Any) -> tuple[int, Any]:
    """A Mongo-style sort key: missing/null < NaN < numbers < strings < objects < arrays < bools < dates."""
    rank = _TYPE_RANK.get(type(value), 7)
    if rank == 1:
        if isinstance(value, float) and math.isnan(value):
            return (1, (0, 0.0))
        return (1, (1, value))
    if rank in (0, 3, 4, 7):
        return (rank, repr(value) if rank != 0 else 0)
    return (rank, value)


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path of a document (None when absent)."""
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node
