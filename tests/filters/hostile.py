"""Hypothesis strategies: arbitrary Python values as ``filters`` (issue 17).

Not JSON: anything a user (or a bug) may pass. Recursive values with deep nesting, text
with lone surrogates, integers beyond int64 and beyond a double, NaN/inf, naive and
aware datetimes at the edges of the calendar, ``pd.NaT``/``pd.Timestamp``/numpy
scalars, non-JSON objects (bytes, sets, Decimal, Fraction, objects whose ``repr``
fails), non-string keys; plus deep filters built on purpose and expression strings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from wandb_frames.filters.operators import OPERATORS_BY_NAME, RECOGNISED_UNSUPPORTED

__all__ = ["deep_filters", "expressions", "hostile_filters", "hostile_values", "near_valid_filters"]


class BadRepr:
    """An object whose repr and str raise (error messages must still be built)."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


_offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
)
_edge_datetimes = st.sampled_from(
    [datetime.min, datetime.max, datetime(1, 1, 1, 3), datetime(9999, 12, 31, 20), datetime(1970, 1, 1)]
)
datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=_offsets),
    st.builds(lambda d, tz: d.replace(tzinfo=tz), _edge_datetimes, _offsets),
    _edge_datetimes,
)
_surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=8),
    st.text(st.one_of(st.characters(), _surrogate), max_size=6),
    st.sampled_from(["2024-01-01", "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "(?=a)", "[",
                     "^a.*", "", "\x00", "not-a-date"]),
)
_huge_ints = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**308, 10**400, -(10**400), 2**1100])
numbers = st.one_of(
    st.integers(), _huge_ints, st.floats(), st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.0])
)
_odd_scalars = st.sampled_from(
    [pd.NaT, pd.Timestamp("2024-01-01 00:00:00.000000001"), pd.Timestamp("2024-01-01", tz="Asia/Tokyo"),
     np.datetime64("2024-01-01"), np.int64(3), np.float32(1.5), np.True_, np.float64("nan"), Decimal("1.5"),
     Fraction(1, 3), Fraction(10**400), 1j, b"bytes", bytearray(b"x"), {1, 2}, frozenset(), date(2024, 1, 1),
     timedelta(1), object(), Ellipsis, type, np.array([1, 2]), pd.Series([1])]
)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts, datetimes, _odd_scalars, st.builds(BadRepr))

KEYS = st.one_of(
    st.sampled_from(sorted(OPERATORS_BY_NAME) + sorted(RECOGNISED_UNSUPPORTED) + ["$foo", "$"]),
    st.sampled_from(["state", "tags", "created_at", "heartbeat_at", "config.lr", "config.a.value.b", "summary.x",
                     "summary_metrics", "id", "Name", "config.", "config\\.x", "system.cpu", "notes", "duration",
                     "config.nope", "summary.\ud800"]),
    texts,
)
_any_keys = st.one_of(KEYS, KEYS, st.integers(), st.none(), st.tuples(st.integers()), st.builds(BadRepr))

hostile_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_any_keys, children, max_size=3),
    ),
    max_leaves=12,
)


def _wrap(kind: str, inner: Any) -> Any:
    if kind == "and":
        return {"$and": [inner]}
    if kind == "or":
        return {"$or": [inner, {"state": "x"}]}
    if kind == "nor":
        return {"$nor": [inner]}
    if kind == "not":
        return {"$not": inner}
    if kind == "value_list":
        return [inner]
    return {"k": inner}  # value_object


@st.composite
def deep_filters(draw: st.DrawFn) -> Any:
    """A filter nested ``depth`` levels (20..1,200) by one wrapper kind, or a field-level
    ``$not`` chain, or a deep operand value."""
    depth = draw(st.integers(20, 1200))
    kind = draw(st.sampled_from(["and", "or", "nor", "not", "value_list", "value_object", "field_not"]))
    if kind == "field_not":
        ops: dict[str, Any] = {"$gt": 1}
        for _ in range(depth):
            ops = {"$not": ops}
        return {"config.lr": ops}
    if kind in ("value_list", "value_object"):
        value: Any = draw(leaves)
        for _ in range(depth):
            value = _wrap(kind, value)
        return {"config.lr": value} if draw(st.booleans()) else {"config.lr": {"$in": [value]}}
    spec: Any = {"state": "x"}
    for _ in range(depth):
        spec = _wrap(kind, spec)
    return spec


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """Python-expression filters: deep (``not`` chains, parentheses, unary minus, attribute
    chains, nested lists), random text (with surrogates) and random token soups."""
    n = draw(st.integers(1, 1500))
    shape = draw(st.sampled_from(["not", "paren", "minus", "attr", "list", "text", "tokens"]))
    if shape == "not":
        return "not " * n + "state == 'x'"
    if shape == "paren":
        return "(" * n + "state == 'x'" + ")" * n
    if shape == "minus":
        return "config.lr > " + "-" * n + "1"
    if shape == "attr":
        return "config" + ".a" * n + " == 1"
    if shape == "list":
        return "config.lr in " + "[" * n + "1" + "]" * n
    if shape == "text":
        return draw(texts)
    tokens = st.sampled_from(["state", "config.lr", "tags", "==", "!=", "<", ">=", "in", "not", "and", "or",
                              "(", ")", "[", "]", ",", "1", "1e400", "10" * 400, "'x'", "None", "True",
                              "nan", "inf", ".matches('a')", "is", "\ud800", "'\ud800'", "-", "created_at"])
    return " ".join(draw(st.lists(tokens, max_size=12)))


_VALID_KEYS = ["state", "tags", "created_at", "heartbeat_at", "config.lr", "config.k", "config.model",
               "config.model.layers", "config.seed", "config.mixed", "config.nope", "summary.loss", "summary.img",
               "summary.img.path", "display_name", "notes", "duration"]
_legit = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=4),
    st.datetimes(timezones=st.none() | _offsets), st.sampled_from(["2024-01-02", "x", "finished", "^a"]),
)
_operands = st.one_of(
    _legit, _legit, _legit, st.lists(_legit, min_size=1, max_size=3), leaves, st.lists(leaves, max_size=3),
    st.dictionaries(st.text(max_size=3), leaves, max_size=2),
)


@st.composite
def near_valid_filters(draw: st.DrawFn) -> Any:
    """Well-shaped filters (real keys and operators) whose operands are hostile values."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(_VALID_KEYS))
        op = draw(st.sampled_from(["bare", "bare", "$eq", "$ne", "$gt", "$lt", "$in", "$nin", *sorted(OPERATORS_BY_NAME)]))
        value = draw(_operands)
        parts.append({key: value} if op == "bare" else {key: {op: value}})
    if len(parts) == 1:
        return parts[0]
    return {draw(st.sampled_from(["$and", "$or", "$nor"])): parts}


hostile_filters = st.one_of(
    near_valid_filters(),
    near_valid_filters(),
    hostile_values,
    st.dictionaries(KEYS, hostile_values, max_size=3),
    deep_filters(),
    expressions(),
)
