"""The Python-expression front end: same trees as Mongo JSON, errors with columns, no eval."""

from __future__ import annotations

import pytest

from wandb_frames.errors import FilterSyntaxError
from wandb_frames.filters import parse_filter, to_server


@pytest.mark.parametrize(
    ("expr", "mongo"),
    [
        (
            "config.lr > 1e-3 and state == 'finished' and 'baseline' in tags",
            {"config.lr": {"$gt": 1e-3}, "state": "finished", "tags": "baseline"},
        ),
        ("0.1 < config.lr < 1", {"config.lr": {"$gt": 0.1, "$lt": 1}}),
        ("1 > config.lr", {"config.lr": {"$lt": 1}}),
        ("state in ['a', 'b']", {"state": {"$in": ["a", "b"]}}),
        ("state not in ('a',)", {"state": {"$nin": ["a"]}}),
        ("'x' not in tags", {"tags": {"$ne": "x"}}),
        ("group is None", {"group": None}),
        ("group is not None", {"group": {"$ne": None}}),
        ("not (state == 'a' or state == 'b')", {"$not": {"$or": [{"state": "a"}, {"state": "b"}]}}),
        ("config.lr == -2", {"config.lr": -2}),
        ("summary['eval/loss'] < 0.5", {"summary.eval/loss": {"$lt": 0.5}}),
        ("config['a.b'] == 1", {"config.a\\.b": 1}),
        ("created_at >= '2024-01-01'", {"created_at": {"$gte": "2024-01-01"}}),
        ("display_name.matches('^a')", {"display_name": {"$regex": "^a"}}),
        ("config.use_bn == True", {"config.use_bn": True}),
        ("((state == 'a'))", {"state": "a"}),
    ],
)
def test_expression_equals_mongo(expr: str, mongo: dict[str, object]) -> None:
    assert parse_filter(expr) == parse_filter(mongo)


def test_strict_lt_stays_lt() -> None:
    assert to_server(parse_filter("config.lr < 1")) == {"config.lr.value": {"$lt": 1}}
    assert to_server(parse_filter("config.lr <= 1")) == {"config.lr.value": {"$lte": 1}}


@pytest.mark.parametrize(
    ("expr", "column", "hint"),
    [
        ("config.lr > foo", 13, "literal"),
        ("state == 'a' and id == 'x'", 18, "`name` (the run ID)"),
        ("config.lr > ", 12, "invalid expression"),
        ("config.lr + 1 > 2", 1, "key on one side"),
        ("config.lr > config.bs", 13, "two keys"),
        ("__import__('os').system('x')", 1, "matches"),
        ("state", 1, "not a condition"),
        ("config.lr < None", 13, "is None"),
        ("state is 'a'", 10, "is None"),
        ("tags == ['a']", 9, "one at a time"),
        ("state.matches('(?=x)')", 15, "RE2"),
        ("x = 1", 3, "invalid expression"),
    ],
)
def test_errors_point_at_column(expr: str, column: int, hint: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(expr)
    assert hint in str(info.value)
    assert getattr(info.value, "column", None) == column
    assert f"(column {column})" in str(info.value)


def test_never_evaluates() -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter("(lambda: 1)() == 1")
