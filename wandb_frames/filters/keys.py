"""THE key alias table: user key → W&B server key → runs-frame column.

This module is the single source of truth for filter and order keys; the table in
``docs/filters.md`` is rendered from :data:`RUN_FIELDS` and :data:`PREFIXES` by
:mod:`.docs`. See ``docs/architecture.md`` ("Filter keys → frame columns").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from wandb_frames.errors import FilterSyntaxError
from wandb_frames.filters.nodes import Key

__all__ = [
    "PREFIXES",
    "REJECTED",
    "RUN_FIELDS",
    "FieldAlias",
    "PrefixAlias",
    "escape_segment",
    "resolve_key",
    "split_key",
]


@dataclass(frozen=True, slots=True)
class FieldAlias:
    """One run field: the spellings users may write and where each backend finds it."""

    spellings: tuple[str, ...]
    server: str | None  # None: W&B's filters cannot reach it (evaluated locally)
    column: str
    kind: str = "any"  # "date" | "tags" | "any"
    order_key: str | None = None  # the `order` spelling, when it differs from `server`
    doc: str = ""


RUN_FIELDS: tuple[FieldAlias, ...] = (
    FieldAlias(("name",), "name", "id", doc="the run ID (not the display name)"),
    FieldAlias(("display_name", "displayName"), "displayName", "name", doc="display name"),
    FieldAlias(
        ("created_at", "createdAt"), "createdAt", "created_at", "date", "created_at",
        "creation time (UTC); ISO string or datetime",
    ),
    FieldAlias(
        ("heartbeat_at", "heartbeatAt"), "heartbeatAt", "heartbeat_at", "date", "heartbeat_at",
        "last heartbeat (UTC); ISO string or datetime",
    ),
    FieldAlias(("job_type", "jobType"), "jobType", "job_type", doc="job type"),
    FieldAlias(("state",), "state", "state", doc="running, finished, crashed, failed, …"),
    FieldAlias(("group",), "group", "group", doc="run group"),
    FieldAlias(("host",), "host", "host", doc="host name"),
    FieldAlias(("tags",), "tags", "tags", "tags", doc='list of tags; `{"tags": "x"}` = has tag x'),
    FieldAlias(("sweep",), "sweep", "sweep", doc="sweep name (ID)"),
    FieldAlias(("duration",), "duration", "duration", doc="runtime in seconds"),
    FieldAlias(("entity",), "entity", "entity", doc="entity (team or user)"),
    FieldAlias(("username",), "username", "user", doc="user who created the run"),
    FieldAlias(("project",), None, "project", doc="project name (local only)"),
    FieldAlias(("notes",), None, "notes", doc="run notes (local only: not a documented server key)"),
    FieldAlias(("commit",), None, "commit", doc="git commit (local only: not a documented server key)"),
)


@dataclass(frozen=True, slots=True)
class PrefixAlias:
    """A nested namespace: ``<prefix>.<key>[.<sub>…]``."""

    prefixes: tuple[str, ...]
    server: str  # server prefix
    column: str  # frame column prefix
    value_node: bool  # the server puts ``.value`` after the top-level key (config)
    doc: str = ""


PREFIXES: tuple[PrefixAlias, ...] = (
    PrefixAlias(
        ("config",), "config", "config", True,
        "`config.k.sub` and `config.k.value.sub` are the same key",
    ),
    PrefixAlias(
        ("summary_metrics", "summary"), "summary_metrics", "summary", False,
        "`summary.k` is our alias; the server only accepts `summary_metrics.k`",
    ),
    PrefixAlias(
        ("system_metrics", "systemMetrics", "system"), "systemMetrics", "system", False,
        "system metrics",
    ),
)

#: Keys W&B silently ignores or rejects, with the fix we suggest.
REJECTED: dict[str, str] = {
    "id": "did you mean `name` (the run ID)? W&B matches nothing for `id`",
    "_id": "did you mean `name` (the run ID)?",
    "run_id": "did you mean `name` (the run ID)?",
    "Name": "did you mean `display_name` (the display name) or `name` (the run ID)?",
    "display": "did you mean `display_name`?",
    "displayname": "did you mean `display_name`?",
    "created": "did you mean `created_at`?",
    "user": "did you mean `username`?",
    "job": "did you mean `job_type`?",
    "tag": "did you mean `tags`?",
    "runtime": "did you mean `duration` (runtime in seconds)?",
}

_BY_SPELLING: dict[str, FieldAlias] = {s: f for f in RUN_FIELDS for s in f.spellings}
_BY_PREFIX: dict[str, PrefixAlias] = {p: a for a in PREFIXES for p in a.prefixes}


def split_key(key: str) -> list[str]:
    """Split a dotted key into segments; ``\\.`` is a literal dot inside a segment."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(key):
        ch = key[i]
        if ch == "\\" and i + 1 < len(key) and key[i + 1] == ".":
            current.append(".")
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def escape_segment(segment: str) -> str:
    """Escape literal dots in one segment the way the runs frame names columns."""
    return segment.replace(".", "\\.")


def _suggest(key: str) -> str:
    known = [s for f in RUN_FIELDS for s in f.spellings] + [f"{p}.<key>" for p in _BY_PREFIX]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return hint + "Known keys: run fields (name, display_name, state, tags, …), config.<key>, summary_metrics.<key>"


def resolve_key(key: str, *, pointer: str = "", filter: object = None) -> Key:
    """Resolve a user key to a :class:`Key` (frame column and server key).

    Raises:
        FilterSyntaxError: the key is unknown, or is one W&B silently ignores (``id``, ``Name``).
    """
    if key in _BY_SPELLING:
        alias = _BY_SPELLING[key]
        return Key(alias.column, alias.server, alias.kind)
    if key in REJECTED:
        raise FilterSyntaxError(f"unknown filter key {key!r}: {REJECTED[key]}", path=pointer, filter=filter)
    parts = split_key(key)
    head, rest = parts[0], parts[1:]
    prefix = _BY_PREFIX.get(head)
    if prefix is None:
        raise FilterSyntaxError(f"unknown filter key {key!r}: {_suggest(key)}", path=pointer, filter=filter)
    if not rest or any(not p for p in rest):
        raise FilterSyntaxError(
            f"filter key {key!r} needs a non-empty sub-key, e.g. `{prefix.prefixes[0]}.lr`",
            path=pointer,
            filter=filter,
        )
    if prefix.value_node and len(rest) >= 2 and rest[1] == "value":
        rest = [rest[0], *rest[2:]]
    column = ".".join([prefix.column, *(escape_segment(p) for p in rest)])
    server: str | None
    if any("." in p or p.startswith("$") for p in rest):
        server = None  # a literal dot or `$` cannot be addressed by a Mongo path
    elif prefix.value_node:
        server = ".".join([prefix.server, rest[0], "value", *rest[1:]])
    else:
        server = ".".join([prefix.server, *rest])
    return Key(column, server)


def column_to_key(column: str) -> str:
    """The canonical user key for a frame column (used to print filters back)."""
    for alias in RUN_FIELDS:
        if alias.column == column:
            return alias.spellings[0]
    head, _, rest = column.partition(".")
    for prefix in PREFIXES:
        if prefix.column == head and rest:
            return f"{prefix.prefixes[0]}.{rest}"
    return column
