"""The fused walk equals ``flatten_with_collisions`` + transpose on pages whose keys repeat.

The walk caches, per prefix, each key's column — also for keys containing the separator,
whose names are added to the run's collision check after each mapping. These pages draw
their keys from a few names (``a``, ``b``, ``a.b``, …), so the same key comes back in later
rows as a leaf, a nested dict, a media or empty dict, or under a literal separator beside a
nested key of the same name: the cached paths and the collision roll-back both run.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.tabular.decode import decode_sections
from wandb_frames.tabular.flatten import flatten_with_collisions
from wandb_frames.tabular.fused import flatten_to_columns, sections_to_columns

FEW_KEYS = st.sampled_from(["a", "b", "a.b", "b.a", "a/b", "a.b.a", ""])
MEDIA = st.fixed_dictionaries({"_type": st.just("image-file")}, optional={"path": st.text(max_size=2)})
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=2), st.lists(st.integers(0, 2), max_size=2), MEDIA, st.just({}),
)


def _sections(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        st.dictionaries(keys, LEAVES, max_size=4),
        lambda children: st.dictionaries(keys, st.one_of(LEAVES, children), max_size=4),
        max_leaves=12,
    )


RUNS = st.fixed_dictionaries(
    {"config": _sections(FEW_KEYS), "summary": _sections(FEW_KEYS)},
    optional={"id": st.text(max_size=2), "system": _sections(FEW_KEYS), "a.b": st.integers(0, 2),
              "summary.a": st.integers(0, 2)},
)


def _reference(runs: list[dict[str, Any]], sep: str) -> tuple[dict[str, list[Any]], list[str]]:
    columns: dict[str, list[Any]] = {}
    escaped: list[str] = []
    for row, run in enumerate(runs):
        flat, collided = flatten_with_collisions(run, sep=sep)
        escaped.extend(name for name in collided if name not in escaped)
        for name, value in flat.items():
            columns.setdefault(name, [None] * len(runs))[row] = value
    return columns, escaped


def _same(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> bool:
    def same_value(x: Any, y: Any) -> bool:
        if type(x) is float and type(y) is float and math.isnan(x) and math.isnan(y):
            return True
        return type(x) is type(y) and repr(x) == repr(y)

    return list(a) == list(b) and all(
        len(a[k]) == len(b[k]) and all(map(same_value, a[k], b[k])) for k in a
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(RUNS, min_size=1, max_size=8), st.sampled_from([".", "/"]))
def test_walk_equals_reference_on_pages_of_repeating_keys(runs: list[dict[str, Any]], sep: str) -> None:
    columns, escaped = flatten_to_columns(runs, sep=sep)
    expected, expected_escaped = _reference(runs, sep)
    assert _same(columns, expected)
    assert escaped == expected_escaped


def _node(run: dict[str, Any], wrap: list[bool], internal: bool) -> dict[str, Any]:
    config = {
        key: {"value": value, "desc": None} if wrap[i % len(wrap)] else value
        for i, (key, value) in enumerate(run["config"].items())
    }
    if internal:
        config["_wandb"] = {"value": {"cli_version": "0.31.0"}}
    node: dict[str, Any] = {"name": "r", "config": json.dumps(config)}  # bare NaN/Infinity: W&B's texts
    node["summaryMetrics"] = json.dumps(run["summary"])
    if "system" in run:
        node["systemMetrics"] = json.dumps(run["system"])
    return node


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(RUNS, st.lists(st.booleans(), min_size=1, max_size=3), st.booleans()), min_size=1, max_size=8),
    st.sampled_from([".", "/"]),
)
def test_sections_walk_equals_reference_with_envelopes(
    drawn: list[tuple[dict[str, Any], list[bool], bool]], sep: str
) -> None:
    """Config envelopes unwrapped during the walk (some values bare), NaN texts, literal keys."""
    nodes = [_node(run, wrap, internal) for run, wrap, internal in drawn]
    columns, escaped = sections_to_columns(nodes, sep=sep)
    expected, expected_escaped = _reference([decode_sections(node) for node in nodes], sep)
    assert _same(columns, expected)
    assert escaped == expected_escaped


def test_a_cached_literal_key_that_later_collides_is_rolled_back_and_escaped() -> None:
    runs = [
        {"summary": {"a.b": 1}},  # the literal key is cached here, no collision
        {"summary": {"a": {"b": 2}}},  # the nested name: written into the same column
        {"summary": {"a": {"b": 3}, "a.b": 4}},  # both in one run: a collision, escaped
        {"summary": {"a.b": {"c": 5}}},  # the literal key as a branch
    ]
    columns, escaped = flatten_to_columns(runs)
    expected, expected_escaped = _reference(runs, ".")
    assert _same(columns, expected)
    assert escaped == expected_escaped == ["summary.a\\.b"]
    assert columns["summary.a.b"] == [1, 2, 3, None]
    assert columns["summary.a\\.b"] == [None, None, 4, None]
