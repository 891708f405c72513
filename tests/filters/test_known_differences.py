"""Known differences between the local backend and mongomock / W&B (docs/filters.md).

Each test shows the difference on a minimal example, so a change on either side fails.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from filters.support import documents, local_ids, table_of
from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import parse_filter
from wandb_frames.filters.columns import JSON_ENCODING_KEY, JSON_ENCODING_VALUE
from wandb_frames.filters.to_server import to_mongo
from wandb_frames.testing.mongo import select_ids

RECORDS: list[dict[str, Any]] = [
    {"id": "n", "created_at": "2024-01-01", "config": {"x": None, "m": 5, "f": True}, "summary": {"s": 2}},
    {"id": "m", "created_at": "2024-01-01", "config": {"f": 1}, "summary": {"s": 3}},
]


def both(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    f = parse_filter(spec)
    assert f is not None
    return local_ids(table_of(RECORDS), spec), select_ids(to_mongo(f), documents(RECORDS))


def test_exists_over_null_cells_is_declined_not_answered_differently() -> None:
    """The runs frame stores an explicit null and a missing key alike (Arrow null): where a
    column has null cells, local ``$exists`` raises UnsupportedFilterError naming the reason
    instead of giving an answer that differs from the server's."""
    spec = {"config.x": {"$exists": True}}
    with pytest.raises(UnsupportedFilterError) as info:
        local_ids(table_of(RECORDS), spec)
    assert info.value.operator == "$exists" and info.value.backend == "arrow"
    assert "explicit null" in info.value.message
    f = parse_filter(spec)
    assert f is not None
    assert select_ids(to_mongo(f), documents(RECORDS)) == ["n"]


def test_exists_is_answered_where_the_frame_can_tell() -> None:
    table = table_of(RECORDS)
    # every row has the key: no null cell, so present everywhere
    assert local_ids(table, {"summary.s": {"$exists": True}}) == ["n", "m"]
    # no column reaches the key: missing everywhere
    assert local_ids(table, {"config.never": {"$exists": False}}) == ["n", "m"]
    # inside JSON text an explicit null is kept: present, unlike a missing key
    json_field = pa.field("config.j", pa.string(), metadata={JSON_ENCODING_KEY: JSON_ENCODING_VALUE})
    texts = pa.table({"id": ["a", "b", "c"], "config.j": pa.array(['{"k": null}', '{"l": 1}', None])},
                     schema=pa.schema([pa.field("id", pa.string()), json_field]))
    assert local_ids(texts, {"config.j.k": {"$exists": True}}) == ["a"]
    assert local_ids(texts, {"config.j.k": {"$exists": False}}) == ["b", "c"]


def test_null_under_a_scalar_parent() -> None:
    # MongoDB: `config.m.value.k` is missing under the scalar 5, so {k: null} matches "n".
    # mongomock finds no candidate and does not match; we follow MongoDB.
    assert both({"config.m.k": None}) == (["n", "m"], ["m"])


def test_size_on_a_scalar() -> None:
    # mongomock's $size: 1 matches any truthy scalar; MongoDB and we only count arrays.
    assert both({"summary.s": {"$size": 1}}) == ([], ["n", "m"])


def test_bool_is_not_a_number() -> None:
    assert both({"config.f": 1}) == (["m"], ["n", "m"])


def test_nan_equals_nan() -> None:
    recs = [{"id": "a", "created_at": "2024-01-01", "summary": {"l": float("nan")}}]
    spec = {"summary.l": float("nan")}
    f = parse_filter(spec)
    assert f is not None
    assert local_ids(table_of(recs), spec) == ["a"]
    assert select_ids(to_mongo(f), documents(recs)) == []
