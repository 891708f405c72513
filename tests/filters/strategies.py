"""Hypothesis strategies: random run records (seed-record shape) and random Mongo filters.

Reusable by other suites (e.g. the HTTP agreement test): ``records()`` yields lists of
``wandb_frames.testing.records.RunRecord`` dicts, ``filters()`` yields Mongo JSON filters
written with user keys (both spellings, ``summary.`` alias, ``config.k.value``).

Records keep explicit nulls (``None`` in the pools) next to missing keys, and some keys
(``config.nope``, ``summary.never``) are in no record: no column of the frame reaches them.

Kept small for CI (≤ 8 records, filters ≤ 2 levels deep). Value pools avoid the places
where mongomock (the reference) departs from MongoDB on purpose-free details, each
listed in docs/filters.md "Known differences":

- no 0/1 numbers (mongomock's Python ``==`` makes ``True == 1``);
- no NaN operands (mongomock: NaN != NaN; MongoDB and we: NaN == NaN);
- no null operands on nested keys (mongomock finds no candidate under a scalar parent);
- ``$size`` only on ``tags`` (mongomock's ``$size: 1`` matches any truthy scalar).
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "DATES",
    "FILTER_KEYS",
    "NESTED_KEYS",
    "filters",
    "has_operator",
    "records",
]

NUMBERS = [-2, 2, 3, 10, 0.5, 2.5, -1.5, 2.0]
STRINGS = ["a", "b", "ab", "ba", "A", ""]
BOOLS = [True, False]
TAGS = ["a", "b", "c"]
DATES = [datetime(2024, 1, d, h) for d in (1, 2, 3) for h in (0, 12)]

numbers = st.sampled_from(NUMBERS)
strings = st.sampled_from(STRINGS)
scalars = st.one_of(numbers, strings, st.sampled_from(BOOLS))

# Record values are drawn from flat pools (one cheap draw per field keeps 2,000 examples fast).
_MISSING = object()
_DATA_NUMBERS: list[Any] = [*NUMBERS, math.nan, math.inf, -math.inf]
_DATA_SCALARS: list[Any] = [*_DATA_NUMBERS, *STRINGS, *BOOLS]
_SMALL_LISTS: list[Any] = [[], [2], [3, 2], ["a"], ["a", "b"], [2, "a"], ["b", 3, 2]]
_MODELS: list[Any] = [
    {},
    *({"layers": v} for v in (2, 3, "a")),
    *({"act": v} for v in ("a", "b")),
    *({"layers": v, "act": a} for v in (2, 10, "b") for a in ("a", "ab")),
]
_POOLS: dict[str, list[Any]] = {
    "config.lr": [_MISSING, None, *_DATA_NUMBERS],
    "config.opt": [_MISSING, None, *_DATA_SCALARS],
    "config.lst": [_MISSING, *_SMALL_LISTS, *_DATA_SCALARS[::2]],
    "config.model": [_MISSING, None, *_MODELS, *_DATA_SCALARS[::3]],
    "summary.loss": [_MISSING, *_DATA_NUMBERS],
    "summary.acc": [_MISSING, None, *NUMBERS, *STRINGS],
    "summary.img": [_MISSING, 2, 3.5, *({"_type": "image-file", "path": p} for p in STRINGS)],
    "display_name": [_MISSING, "r1", "r2", "a"],
    "state": [_MISSING, "finished", "crashed", "running"],
    "group": [_MISSING, "g1", "g2"],
    "job_type": [_MISSING, "train", "eval"],
}
_TAG_SETS: list[list[str]] = [[], ["a"], ["b"], ["c"], ["a", "b"], ["b", "c"], ["c", "a", "b"]]
_DRAW_POOLS = {name: st.sampled_from(pool) for name, pool in _POOLS.items()}
_DRAW_DATES = st.sampled_from(DATES)
_DRAW_RUNTIMES = st.sampled_from([10, 60, 3600])
_DRAW_TAGS = st.sampled_from(_TAG_SETS)


@st.composite
def _record_body(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(_DRAW_DATES)
    record: dict[str, Any] = {
        "created_at": created,
        "heartbeat_at": created + timedelta(seconds=draw(_DRAW_RUNTIMES)),
        "config": {},
        "summary": {},
        "tags": list(draw(_DRAW_TAGS)),
    }
    for name, pool in _DRAW_POOLS.items():
        value = draw(pool)
        if value is _MISSING:
            continue
        head, _, key = name.partition(".")
        if key:
            record[head][key] = copy.deepcopy(value)
        else:
            record[name] = value
    return record


@st.composite
def records(draw: st.DrawFn, max_size: int = 8) -> list[dict[str, Any]]:
    """A list of 0..max_size run records with unique ids."""
    bodies = draw(st.lists(_RECORD, max_size=max_size) | st.lists(_RECORD, min_size=3, max_size=max_size))
    return [{"id": f"run{i}", **body} for i, body in enumerate(bodies)]


_RECORD = _record_body()


#: key -> operand pool (user spellings, including aliases).
FILTER_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "state": st.sampled_from(["finished", "crashed", "running", "x"]),
    "display_name": st.sampled_from(["r1", "r2", "a", "run1"]),
    "displayName": st.sampled_from(["r1", "a"]),
    "group": st.sampled_from(["g1", "g2", "a"]),
    "job_type": st.sampled_from(["train", "eval"]),
    "name": st.sampled_from(["run0", "run1", "run9"]),
    "tags": st.sampled_from(TAGS),
    "created_at": st.one_of(
        st.sampled_from(DATES),
        st.sampled_from(DATES).map(lambda d: d.isoformat()),
        st.sampled_from(DATES).map(lambda d: d.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))),
    ),
    "createdAt": st.sampled_from(DATES).map(lambda d: d.strftime("%Y-%m-%d")),
    "config.lr": st.one_of(numbers, scalars),
    "config.opt": scalars,
    "config.lst": scalars,
    "config.model": scalars,
    "config.model.layers": scalars,
    "config.model.value.act": strings,
    "config.nope": scalars,
    "summary.never": scalars,
    "summary.loss": st.one_of(numbers, scalars),
    "summary_metrics.acc": scalars,
    "summary.img": scalars,
    "summary.img.path": strings,
}
NESTED_KEYS = frozenset({"config.model.layers", "config.model.value.act", "summary.img.path"})
PATTERNS = ["^a", "b$", "a", "^A", ".", "^$", "a|b"]


@st.composite
def _operator(draw: st.DrawFn, key: str, allow_not: bool = True) -> Any:
    pool = FILTER_KEYS[key]
    nullable = key not in NESTED_KEYS
    value = st.one_of(pool, st.none()) if nullable else pool
    choices = ["bare", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$all"]
    if key == "tags":
        choices.append("$size")
    if allow_not:
        choices.append("$not")
    op = draw(st.sampled_from(choices))
    if op == "bare":
        return draw(value)
    if op in ("$eq", "$ne"):
        return {op: draw(value)}
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {op: draw(pool)}
    if op in ("$in", "$nin"):
        return {op: draw(st.lists(value, min_size=1, max_size=3))}
    if op == "$all":
        return {op: draw(st.lists(pool, min_size=1, max_size=2))}
    if op == "$exists":
        return {op: draw(st.booleans())}
    if op == "$size":
        return {op: draw(st.integers(0, 3))}
    if op == "$regex":
        spec: dict[str, Any] = {op: draw(st.sampled_from(PATTERNS))}
        if draw(st.booleans()):
            spec["$options"] = "i"
        return spec
    inner = draw(_operator(key, allow_not=False))
    if not isinstance(inner, dict):
        inner = {"$eq": inner}
    return {"$not": inner}


@st.composite
def _leaf(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.sampled_from([1, 1, 1, 2]))
    keys = draw(st.lists(st.sampled_from(sorted(FILTER_KEYS)), min_size=size, max_size=size, unique=True))
    return {k: draw(_operator(k)) for k in keys}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    """A Mongo JSON filter: a leaf, or $and/$or/$nor/$not of leaves (optionally next to a leaf)."""
    if draw(st.booleans()):
        return draw(_leaf())
    op = draw(st.sampled_from(["$and", "$or", "$nor", "$not"]))
    spec: dict[str, Any]
    if op == "$not":  # our extension: top-level negation (sent to the server as $nor)
        spec = {op: draw(_leaf())}
    else:
        spec = {op: draw(st.lists(_leaf(), min_size=1, max_size=3))}
    if draw(st.booleans()):
        spec.update(draw(_leaf()))
    return spec


def has_operator(spec: Any, name: str) -> bool:
    """Whether ``$name`` occurs anywhere in a JSON filter."""
    if isinstance(spec, dict):
        return any(k == name or has_operator(v, name) for k, v in spec.items())
    if isinstance(spec, list):
        return any(has_operator(v, name) for v in spec)
    return False
