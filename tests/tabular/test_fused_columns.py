"""The fused flatten-to-columns path equals flatten_run + transpose, cell for cell and in order."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.errors import FlattenCollisionWarning
from wandb_frames.tabular import TableAssembler, flatten_run, runs_to_table
from wandb_frames.tabular.flatten import flatten_with_collisions
from wandb_frames.tabular.fused import flatten_to_columns

from .test_flatten_properties import DOTTED_KEYS, decoded_runs

# A top-level literal key, a dotted summary key and a section that can collide with it.
TOP_LEVEL = st.fixed_dictionaries({}, optional={"summary.a": st.integers(0, 3), "config.a.b": st.just("x")})


def _reference(runs: list[dict[str, Any]], sep: str) -> tuple[dict[str, list[Any]], list[str]]:
    flats: list[dict[str, Any]] = []
    escaped: list[str] = []
    for run in runs:
        flat, collided = flatten_with_collisions(run, sep=sep)
        flats.append(flat)
        escaped.extend(n for n in collided if n not in escaped)
    columns: dict[str, list[Any]] = {}
    for row, flat in enumerate(flats):
        for name, value in flat.items():
            columns.setdefault(name, [None] * len(runs))[row] = value
    return columns, escaped


def _same(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> bool:
    return list(a) == list(b) and all(repr(a[k]) == repr(b[k]) for k in a)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(decoded_runs(DOTTED_KEYS), TOP_LEVEL).map(lambda p: {**p[0], **p[1]}), max_size=6),
       st.sampled_from([".", "/"]))
def test_fused_columns_equal_flatten_then_transpose(runs: list[dict[str, Any]], sep: str) -> None:
    columns, escaped = flatten_to_columns(runs, sep=sep)
    expected, expected_escaped = _reference(runs, sep)
    assert _same(columns, expected)
    assert escaped == expected_escaped


def test_fused_collision_rolls_back_the_run_and_escapes() -> None:
    runs = [
        {"id": "a", "summary": {"x.y": 1, "x": {"y": 2}}},
        {"id": "b", "summary": {"x.y": {"z": 3}, "x": {"y": {"z": 4}}, "new": 5}},
        {"id": "c", "summary": {"gpu.0.util": 7.5}, "system": {"gpu.0.util": 1}},
    ]
    columns, escaped = flatten_to_columns(runs)
    expected, _ = _reference(runs, ".")
    assert _same(columns, expected)
    assert escaped == ["summary.x\\.y", "summary.x\\.y.z"]
    assert columns["summary.x.y"] == [2, None, None]
    assert columns["summary.gpu.0.util"] == [None, None, 7.5]


def test_fused_non_string_keys_and_non_dict_runs_take_the_careful_path() -> None:
    class Run(dict[str, Any]):
        pass

    runs: list[Any] = [{"id": "a", "config": {1: "one", "k": 2}}, Run(id="b", config={"k": 3})]
    columns, escaped = flatten_to_columns(runs)
    assert list(columns) == ["id", "config.1", "config.k"]
    assert columns["config.k"] == [2, 3] and columns["config.1"] == ["one", None] and escaped == []


def test_add_runs_equals_add_of_flattened_runs_and_warns_once() -> None:
    runs = [{"id": str(i), "config": {"a.b": i, "a": {"b": -i}}, "summary": {"loss": i / 3}} for i in range(3)]
    slow = TableAssembler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlattenCollisionWarning)
        slow.add([flatten_run(r) for r in runs])
    fast = TableAssembler()
    with pytest.warns(FlattenCollisionWarning) as caught:
        fast.add_runs(runs)
    assert len(caught) == 1 and "config.a\\.b" in str(caught[0].message)
    assert fast.finish().equals(slow.finish())
    with pytest.warns(FlattenCollisionWarning):
        assert runs_to_table(runs).equals(fast.finish())


def test_decode_run_nodes_equals_per_node_and_restores_the_collector() -> None:
    import gc

    from wandb_frames.tabular import decode_run_node, decode_run_nodes

    nodes = [{"name": f"r{i}", "config": '{"lr": {"value": 0.1, "desc": null}}', "summaryMetrics": '{"x": NaN}'}
             for i in range(3)]
    expected = [decode_run_node(n, entity="e", project="p") for n in nodes]
    assert repr(decode_run_nodes(nodes, entity="e", project="p")) == repr(expected)
    assert gc.isenabled()
    gc.disable()
    try:
        decode_run_nodes(nodes, entity="e", project="p")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
