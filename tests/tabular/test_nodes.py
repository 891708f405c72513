"""``TableAssembler.add_nodes`` (decode + flatten node by node) equals decode_run_nodes + add_runs."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.errors import FlattenCollisionWarning, ProtocolError
from wandb_frames.tabular import TableAssembler, decode_run_nodes
from wandb_frames.tabular.decode import decode_run_columns
from wandb_frames.tabular.fused import flatten_to_columns, nodes_to_columns

from .conftest import collect_warnings
from .test_flatten_properties import DOTTED_KEYS, SCALARS, nested

TIMESTAMPS = st.one_of(st.none(), st.sampled_from(["2023-11-05T17:46:35", "2024-01-01T00:00:00Z",
                                                   "2024-02-29T12:00:00.1234567+02:00"]))


def _envelopes(config: dict[str, Any], wrap: list[bool]) -> dict[str, Any]:
    """W&B's config shape: most values in ``{"value", "desc"}``, some bare (one level only)."""
    out: dict[str, Any] = {}
    for i, (key, value) in enumerate(config.items()):
        out[key] = {"value": value, "desc": None} if wrap[i % len(wrap)] else value
    return out


@st.composite
def run_nodes(draw: st.DrawFn) -> dict[str, Any]:
    """GraphQL ``Run`` nodes: optional fields, JSON strings with bare NaN/Infinity, dotted keys."""
    node: dict[str, Any] = {"name": draw(st.text(max_size=3))}
    optional = {
        "displayName": st.one_of(st.none(), st.text(max_size=3)),
        "state": st.sampled_from(["finished", "running", None]),
        "createdAt": TIMESTAMPS,
        "heartbeatAt": TIMESTAMPS,
        "computeSeconds": st.one_of(st.none(), st.integers(0, 10), st.floats(0, 1e6)),
        "tags": st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=2)),
        "group": st.one_of(st.none(), st.text(max_size=3)),
        "jobType": st.one_of(st.none(), st.text(max_size=3)),
        "sweepName": st.one_of(st.none(), st.text(max_size=3)),
        "user": st.one_of(st.none(), st.fixed_dictionaries({"username": st.text(max_size=3)})),
        "host": st.one_of(st.none(), st.text(max_size=3)),
        "notes": st.one_of(st.none(), st.text(max_size=3)),
        "commit": st.one_of(st.none(), st.text(max_size=3)),
    }
    for field, strategy in optional.items():
        if draw(st.booleans()):
            node[field] = draw(strategy)
    if draw(st.booleans()):
        config = _envelopes(draw(nested(DOTTED_KEYS)), draw(st.lists(st.booleans(), min_size=1, max_size=3)))
        if draw(st.booleans()):
            config["_wandb"] = {"value": {"cli_version": "0.31.0"}}
        node["config"] = draw(st.one_of(st.none(), st.just(json.dumps(config))))
    for field in ("summaryMetrics", "systemMetrics"):
        if draw(st.booleans()):
            node[field] = draw(st.one_of(st.none(), nested(DOTTED_KEYS).map(json.dumps)))
    return node


@st.composite
def uniform_pages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A page as GraphQL sends it: every node has the same fields (the run fields column by column)."""
    nodes = draw(st.lists(run_nodes(), min_size=1, max_size=5))
    fields = set(draw(st.sampled_from(nodes)))
    filler = {"name": "x", "config": None, "summaryMetrics": None, "systemMetrics": None}
    return [{f: node.get(f, filler.get(f)) for f in sorted(fields)} for node in nodes]


def _same_table(a: pa.Table, b: pa.Table) -> bool:
    return a.schema.equals(b.schema, check_metadata=True) and all(
        repr(a.column(i).to_pylist()) == repr(b.column(i).to_pylist()) for i in range(a.num_columns)
    )


def _both(pages: list[list[dict[str, Any]]], sep: str) -> tuple[Any, Any]:
    def fused() -> pa.Table:
        assembler = TableAssembler(sep=sep)
        for nodes in pages:
            assembler.add_nodes(nodes, entity="e", project="p")
        return assembler.finish()

    def two_steps() -> pa.Table:
        assembler = TableAssembler(sep=sep)
        for nodes in pages:
            assembler.add_runs(decode_run_nodes(nodes, entity="e", project="p"))
        return assembler.finish()

    return collect_warnings(fused), collect_warnings(two_steps)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(run_nodes(), max_size=4), max_size=3), st.sampled_from([".", "/"]))
def test_add_nodes_equals_decode_then_add_runs(pages: list[list[dict[str, Any]]], sep: str) -> None:
    (fused, fused_warnings), (expected, expected_warnings) = _both(pages, sep)
    assert _same_table(fused, expected)
    assert [(w.category, str(w.message)) for w in fused_warnings] == [
        (w.category, str(w.message)) for w in expected_warnings
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(run_nodes(), max_size=5))
def test_nodes_to_columns_equals_flatten_of_decoded(nodes: list[dict[str, Any]]) -> None:
    columns, escaped = nodes_to_columns(nodes, entity="e", project="p")
    expected, expected_escaped = flatten_to_columns(decode_run_nodes(nodes, entity="e", project="p"))
    assert list(columns) == list(expected)
    assert all(repr(columns[name]) == repr(expected[name]) for name in expected)
    assert escaped == expected_escaped


def test_add_nodes_wandb_shaped_page() -> None:
    nodes = [
        {"name": "a1", "displayName": "first", "state": "finished", "createdAt": "2024-01-01T00:00:00Z",
         "computeSeconds": 3, "tags": None, "user": {"username": "alice"},
         "config": '{"lr": {"value": 0.1, "desc": null}, "opt": {"value": {"b": [1, 2]}}, "_wandb": {"value": {}}}',
         "summaryMetrics": '{"loss": NaN, "img": {"_type": "image-file", "path": "a.png"}, "eval.loss": 1}',
         "systemMetrics": '{"gpu.0.util": 5.5}'},
        {"name": "a2", "config": '{"lr": {"value": 1}}', "summaryMetrics": '{"loss": Infinity, "eval": {"loss": 2}}'},
    ]
    (table, caught), (expected, _) = _both([nodes], ".")
    assert caught == [] and _same_table(table, expected)
    assert table.column_names == [
        "id", "name", "entity", "project", "state", "created_at", "duration", "tags", "user",
        "config.lr", "config.opt.b", "summary.loss", "summary.img", "summary.eval.loss", "system.gpu.0.util",
    ]
    assert table.column("config.lr").to_pylist() == [0.1, 1.0]
    assert table.column("summary.eval.loss").to_pylist() == [1, 2]  # one name, different runs: no collision


def test_collision_found_when_the_nested_name_was_met_in_an_earlier_run() -> None:
    runs = [{"id": "a", "summary": {"x": {"y": 1}}}, {"id": "b", "summary": {"x.y": 2, "x": {"y": 3}}}]
    columns, escaped = flatten_to_columns(runs)
    assert escaped == ["summary.x\\.y"]
    assert columns["summary.x.y"] == [1, 3] and columns["summary.x\\.y"] == [None, 2]
    nodes = [{"name": "a", "summaryMetrics": '{"x": {"y": 1}}'},
             {"name": "b", "summaryMetrics": '{"x.y": 2, "x": {"y": 3}}'}]
    assembler = TableAssembler()
    with pytest.warns(FlattenCollisionWarning, match=r"summary\.x\\\.y"):
        assembler.add_nodes(nodes, entity="e", project="p")
    assert assembler.finish().column("summary.x\\.y").to_pylist() == [None, 2]


def test_add_nodes_bad_json_raises_and_adds_nothing() -> None:
    assembler = TableAssembler()
    assembler.add_nodes([{"name": "a", "summaryMetrics": '{"x": 1}'}], entity="e", project="p")
    with pytest.raises(ProtocolError):
        assembler.add_nodes([{"name": "b"}, {"name": "c", "summaryMetrics": "{not json"}], entity="e", project="p")
    assert assembler.num_rows == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assembler.add_nodes([], entity="e", project="p")
    assert assembler.finish().column("id").to_pylist() == ["a"]


@settings(max_examples=150, deadline=None)
@given(uniform_pages())
def test_uniform_page_run_fields_column_by_column_equal_node_by_node(nodes: list[dict[str, Any]]) -> None:
    columns = decode_run_columns(nodes, entity="e", project="p")
    assert columns is not None
    decoded = decode_run_nodes(nodes, entity="e", project="p")
    run_fields = [k for k in decoded[0] if k not in ("config", "config_internal", "summary", "system")]
    assert list(columns) == run_fields
    for name in run_fields:
        assert repr(columns[name]) == repr([run[name] for run in decoded])
    full, escaped = nodes_to_columns(nodes, entity="e", project="p")
    expected, expected_escaped = flatten_to_columns(decoded)
    assert list(full) == list(expected) and escaped == expected_escaped
    assert all(repr(full[name]) == repr(expected[name]) for name in expected)


def test_run_columns_decline_pages_of_different_shapes() -> None:
    assert decode_run_columns([{"name": "a"}, {"name": "b", "state": "x"}], entity="e", project="p") is None
    assert decode_run_columns([{"name": "a", "sweep": {"name": "s"}}], entity="e", project="p") is None
    assert decode_run_columns([], entity="e", project="p") is None
    with pytest.raises(ProtocolError):
        decode_run_columns([{"name": "a", "createdAt": "yesterday"}], entity="e", project="p")


@pytest.mark.parametrize(
    "configs",
    [
        # a bare value after envelopes whose columns exist (row 2) or are new (row 1)
        ['{"lr": {"value": 0.1}, "bs": {"value": 8}}', '{"lr": {"value": 0.2}, "new": {"value": 1}, "bare": 5}'],
        # a dict without "value" (kept whole, flattened), and a bare list
        ['{"opt": {"name": "adam"}, "lr": {"value": 1}}', '{"lr": {"value": 2}, "xs": [1, 2]}'],
        # a literal separator beside the nested name, inside envelopes
        ['{"a": {"value": {"b": 1}}}', '{"a.b": {"value": 2}, "a": {"value": {"b": 3}}, "_wandb": {"value": {}}}'],
        # a bare value in the first run: the rest of the page takes the careful decode
        ['{"bare": 1, "lr": {"value": 1}}', '{"lr": {"value": 2}}', '{"lr": {"value": 3}, "x": {"value": [1]}}'],
        # W&B's internal keys only
        ['{"_wandb": {"value": {"t": 1}}, "wandb_version": 1}', '{"x": {"value": null, "desc": "d"}}'],
    ],
)
def test_config_envelopes_unwrapped_while_flattening_equal_the_decoded_config(configs: list[str]) -> None:
    nodes = [{"name": f"r{i}", "config": text, "summaryMetrics": '{"s": 1}'} for i, text in enumerate(configs)]
    columns, escaped = nodes_to_columns(nodes, entity="e", project="p")
    expected, expected_escaped = flatten_to_columns(decode_run_nodes(nodes, entity="e", project="p"))
    assert list(columns) == list(expected) and escaped == expected_escaped
    assert all(repr(columns[name]) == repr(expected[name]) for name in expected)
