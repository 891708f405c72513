"""Flattening rules of docs/frames.md, one named test each."""

from __future__ import annotations

from typing import Any

import pytest

from wandb_frames.errors import ConfigurationError, FlattenCollisionWarning, SchemaError
from wandb_frames.tabular import flatten_run, unflatten

from .conftest import Collect


def test_flatten_nested_dicts_joined_with_sep() -> None:
    run = {"id": "r1", "config": {"optimizer": {"lr": 0.1, "betas": {"b1": 0.9}}}, "summary": {"eval/loss": 0.5}}
    assert flatten_run(run) == {
        "id": "r1",
        "config.optimizer.lr": 0.1,
        "config.optimizer.betas.b1": 0.9,
        "summary.eval/loss": 0.5,
    }


def test_flatten_custom_sep() -> None:
    assert flatten_run({"config": {"a": {"b": 1}}}, sep="/") == {"config/a/b": 1}
    assert flatten_run({"config": {"a": {"b": 1}}}, sep="__") == {"config__a__b": 1}


@pytest.mark.parametrize("sep", ["", "\\", 1])
def test_flatten_invalid_sep_raises(sep: Any) -> None:
    with pytest.raises(ConfigurationError):
        flatten_run({"config": {}}, sep=sep)


def test_flatten_keeps_depth_first_key_order() -> None:
    run = {"config": {"a": 1, "opt": {"lr": 0.1, "m": 0.9}, "z": 2}}
    assert list(flatten_run(run)) == ["config.a", "config.opt.lr", "config.opt.m", "config.z"]


def test_flatten_media_dict_kept_whole() -> None:
    img = {"_type": "image-file", "path": "media/a.png", "size": {"w": 1, "h": 2}}
    assert flatten_run({"summary": {"img": img}}) == {"summary.img": img}


def test_flatten_empty_dict_kept_as_value() -> None:
    assert flatten_run({"config": {"callbacks": {}, "a": {"b": {}}}}) == {"config.callbacks": {}, "config.a.b": {}}


def test_flatten_empty_section_adds_nothing() -> None:
    assert flatten_run({"id": "r", "config": {}, "summary": {}}) == {"id": "r"}


def test_flatten_lists_not_exploded() -> None:
    run = {"tags": ["a", "b"], "config": {"layers": [64, 32], "blocks": [{"k": 3}]}}
    assert flatten_run(run) == {"tags": ["a", "b"], "config.layers": [64, 32], "config.blocks": [{"k": 3}]}


def test_flatten_config_internal_skipped() -> None:
    assert flatten_run({"config": {"a": 1}, "config_internal": {"_wandb": {"x": 1}}}) == {"config.a": 1}


def test_flatten_literal_separator_kept_verbatim(collect: Collect) -> None:
    flat, caught = collect(lambda: flatten_run({"summary": {"eval.loss": 0.5, "x": {"y.z": 1}}}))
    assert flat == {"summary.eval.loss": 0.5, "summary.x.y.z": 1}
    assert caught == []


def test_flatten_collision_escapes_literal_key_with_warning() -> None:
    run = {"config": {"a.b": 1, "a": {"b": 2}}}
    with pytest.warns(FlattenCollisionWarning, match=r"config\.a\\\.b"):
        flat = flatten_run(run)
    assert flat == {"config.a\\.b": 1, "config.a.b": 2}
    assert unflatten(flat) == {"config": {"a.b": 1, "a": {"b": 2}}}


def test_flatten_collision_between_two_literal_keys_escapes_both() -> None:
    run = {"config": {"a.b": {"c": 1}, "a": {"b.c": 2}}}
    with pytest.warns(FlattenCollisionWarning):
        flat = flatten_run(run)
    assert flat == {"config.a\\.b.c": 1, "config.a.b\\.c": 2}
    assert unflatten(flat) == run


def test_flatten_collision_with_custom_sep() -> None:
    with pytest.warns(FlattenCollisionWarning):
        flat = flatten_run({"config": {"a/b": 1, "a": {"b": 2}}}, sep="/")
    assert flat == {"config/a\\/b": 1, "config/a/b": 2}


def test_flatten_non_string_keys_become_strings() -> None:
    assert flatten_run({"config": {1: {"x": True}}}) == {"config.1.x": True}


def test_flatten_very_deep_nesting_does_not_fail() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(3000):
        deep = {"k": deep}
    flat = flatten_run({"config": deep})
    assert flat == {"config." + "k." * 3000 + "leaf": 1}


def test_unflatten_inverts_flatten() -> None:
    run = {"id": "r", "tags": [], "config": {"a": {"b": 1, "c": {}}, "img": {"_type": "x"}}}
    assert unflatten(flatten_run(run)) == run


def test_unflatten_value_and_group_at_once_raises_schema_error() -> None:
    with pytest.raises(SchemaError):
        unflatten({"config.a": 1, "config.a.b": 2})
    with pytest.raises(SchemaError):
        unflatten({"config.a.b": 2, "config.a": 1})
    with pytest.raises(SchemaError):
        unflatten({"config.a": {}, "config.a.b": 2})
