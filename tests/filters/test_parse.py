"""Parsing Mongo JSON: normalisation, structural equality, and errors with JSON pointers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from wandb_frames.errors import FilterError, FilterSyntaxError, UnsupportedFilterError
from wandb_frames.filters import Filter, parse_filter, to_server, to_server_json
from wandb_frames.filters import nodes


def test_none_and_empty_mean_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter({}) is None
    assert to_server_json(None) == "{}"


def test_filter_passes_through() -> None:
    f = parse_filter({"state": "finished"})
    assert parse_filter(f) is f
    assert isinstance(f, Filter)


def test_equal_filters_hash_equal_across_spellings() -> None:
    a = parse_filter({"created_at": {"$gt": "2024-01-01"}, "config.lr.value": 1})
    b = parse_filter({"createdAt": {"$gt": datetime(2024, 1, 1, tzinfo=UTC)}, "config.lr": 1})
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


def test_nan_operands_are_structurally_equal() -> None:
    a = parse_filter({"summary.loss": float("nan")})
    b = parse_filter({"summary.loss": math.nan})
    assert a == b and hash(a) == hash(b)


def test_bool_and_number_operands_differ() -> None:
    assert parse_filter({"config.x": True}) != parse_filter({"config.x": 1})


def test_lists_become_tuples() -> None:
    f = parse_filter({"state": {"$in": ["a", "b"]}})
    assert isinstance(f, nodes.In) and f.value == ("a", "b")


def test_nested_and_is_flattened() -> None:
    f = parse_filter({"$and": [{"$and": [{"state": "a"}, {"group": "g"}]}], "host": "h"})
    assert isinstance(f, nodes.And) and len(f.children) == 3


@pytest.mark.parametrize(
    ("spec", "pointer", "hint"),
    [
        ({"id": "abc"}, "/id", "`name` (the run ID)"),
        ({"Name": "x"}, "/Name", "display_name"),
        ({"$and": [{"state": "a"}, {"displayname": "x"}]}, "/$and/1/displayname", "display_name"),
        ({"stat": "finished"}, "/stat", "state"),
        ({"tags": ["a", "b"]}, "/tags", "$in"),
        ({"config.lr": {"$gtt": 1}}, "/config.lr/$gtt", "$gt"),
        ({"$gt": 1}, "/$gt", "under a key"),
        ({"$or": []}, "/$or", "non-empty array"),
        ({"$or": [1]}, "/$or/0", "filter object"),
        ({"state": {"$in": "a"}}, "/state/$in", "needs an array"),
        ({"config.lr": {"$gt": None}}, "/config.lr/$gt", "ambiguous"),
        ({"created_at": {"$gt": 1700000000}}, "/created_at/$gt", "ISO strings"),
        ({"created_at": {"$gt": "yesterday"}}, "/created_at/$gt", "ISO-8601"),
        ({"config.lr": {"$exists": 1}}, "/config.lr/$exists", "true or false"),
        ({"tags": {"$size": -1}}, "/tags/$size", "non-negative"),
        ({"tags": {"$all": []}}, "/tags/$all", "at least one"),
        ({"state": {"$regex": "(?=a)"}}, "/state/$regex", "RE2"),
        ({"state": {"$regex": "a", "$options": "x"}}, "/state/$options", "ims"),
        ({"state": {"$options": "i"}}, "/state/$options", "$regex"),
        ({"state": {"$gt": 1, "a": 2}}, "/state", "mixes operators"),
        ({"state": {"$not": "a"}}, "/state/$not", "operator object"),
        ({"config": 1}, "/config", "sub-key"),
        ({"config.": 1}, "/config.", "sub-key"),
        ({"a/b": 1}, "/a~1b", "unknown filter key"),
        ({"config.x": {"$eq": {"$gt": 1}}}, "/config.x/$eq", "move it up"),
        ({"config.x": {"a": object()}}, "/config.x", "unsupported value"),
    ],
)
def test_syntax_errors_point_and_suggest(spec: dict[str, Any], pointer: str, hint: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(spec)
    assert info.value.path == pointer
    assert hint in str(info.value)
    assert isinstance(info.value, ValueError)


def test_valid_mongo_but_unsupported_operator() -> None:
    with pytest.raises(UnsupportedFilterError) as info:
        parse_filter({"tags": {"$elemMatch": {"$eq": "a"}}})
    assert info.value.operator == "$elemMatch"
    assert info.value.path == "/tags/$elemMatch"


def test_not_a_mapping() -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter(["state"])


def test_summary_alias_compiles_to_summary_metrics() -> None:
    assert to_server(parse_filter({"summary.loss": 1})) == {"summary_metrics.loss": 1}
    assert to_server(parse_filter({"system.gpu": 1})) == {"systemMetrics.gpu": 1}


def test_config_value_node_only_after_top_level_key() -> None:
    assert to_server(parse_filter({"config.a.b.c": 1})) == {"config.a.value.b.c": 1}
    assert to_server(parse_filter({"config.a.value.b": 1})) == {"config.a.value.b": 1}
    # a config key literally named "value" below the top level is `config.k.value.value`
    assert to_server(parse_filter({"config.k.value.value": 1})) == {"config.k.value.value": 1}
    assert parse_filter({"config.k.value.value": 1}).key.column == "config.k.value"


def test_literal_dot_key_is_local_only() -> None:
    f = parse_filter({"config.a\\.b": 1})
    assert isinstance(f, nodes.Eq)
    assert f.key.column == "config.a\\.b" and f.key.server is None


def test_datetime_on_non_date_key_becomes_iso_string() -> None:
    f = parse_filter({"config.when": datetime(2024, 1, 2, 3, 4, 5)})
    assert to_server(f) == {"config.when.value": "2024-01-02T03:04:05"}


def test_errors_are_filter_errors() -> None:
    assert issubclass(FilterSyntaxError, FilterError)
    assert issubclass(UnsupportedFilterError, FilterError)
