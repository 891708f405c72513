"""The operator table is the single source of truth: every row has a node and backend rules."""

from __future__ import annotations

from wandb_frames.filters import nodes
from wandb_frames.filters.operators import OPERATORS, OPERATORS_BY_NAME, supports
from wandb_frames.filters.to_arrow import _ArrowCompiler
from wandb_frames.filters.to_server import _ServerCompiler


def test_each_node_class_has_its_operator_name() -> None:
    for op in OPERATORS:
        assert op.node.op == op.name or op.name == "$options"


def test_backends_have_a_rule_for_each_supported_node() -> None:
    for op in OPERATORS:
        name = f"visit_{op.node.__name__}"
        if op.arrow:
            assert hasattr(_ArrowCompiler, name), op.name
        if op.server != "no":
            assert hasattr(_ServerCompiler, name), op.name


def test_server_support_values() -> None:
    assert {op.server for op in OPERATORS} <= {"yes", "rewritten", "no"}
    key = nodes.Key("tags", "tags", "tags")
    assert not supports("server", nodes.Size(key, 1))
    assert supports("server", nodes.All(key, ("a",)))
    assert not supports("server", nodes.Regex(key, "a", options="i"))
    assert supports("server", nodes.Regex(key, "a"))
    assert not supports("server", nodes.Eq(nodes.Key("notes", None), "x"))
    assert supports("arrow", nodes.Size(key, 1))


def test_documented_wandb_operators_are_all_server_side() -> None:
    documented = "$and $or $nor $eq $ne $gt $gte $lt $lte $in $nin $exists $regex".split()
    for name in documented:
        assert OPERATORS_BY_NAME[name].server == "yes"
