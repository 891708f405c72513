"""``order``: parsing, the server string, and a local sort that matches the server's order."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest

from filters.support import documents, table_of
from wandb_frames.errors import FilterSyntaxError, UnsupportedFilterError
from wandb_frames.filters import Order, order_to_server, parse_order, sort_table
from wandb_frames.testing.mongo import get_path, normalize_key, sort_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "filters"
RECORDS = json.loads((FIXTURES / "runs.json").read_text())
TABLE = table_of(RECORDS)


@pytest.mark.parametrize(
    ("spec", "order", "server"),
    [
        ("-summary_metrics.loss", Order("summary.loss", "summary_metrics.loss", True), "-summary_metrics.loss"),
        ("+summary.loss", Order("summary.loss", "summary_metrics.loss", False), "+summary_metrics.loss"),
        ("created_at", Order("created_at", "created_at", False), "+created_at"),
        ("-createdAt", Order("created_at", "created_at", True), "-created_at"),
        ("+heartbeat_at", Order("heartbeat_at", "heartbeat_at", False), "+heartbeat_at"),
        ("config.lr", Order("config.lr", "config.lr.value", False), "+config.lr.value"),
        ("-config.lr.value", Order("config.lr", "config.lr.value", True), "-config.lr.value"),
        ("-display_name", Order("name", "displayName", True), "-displayName"),
        ("+name", Order("id", "name", False), "+name"),
    ],
)
def test_parse_and_server_string(spec: str, order: Order, server: str) -> None:
    assert parse_order(spec) == order
    assert order_to_server(parse_order(spec)) == server


@pytest.mark.parametrize("spec", ["", "-", "-id", "+summary", "+foo"])
def test_bad_orders(spec: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_order(spec)


def test_local_only_key_has_no_server_order() -> None:
    with pytest.raises(UnsupportedFilterError):
        order_to_server(parse_order("-notes"))


def _ids(table: pa.Table) -> list[str]:
    return [str(x) for x in table.column("id").to_pylist()]


def _server_order(key: str, descending: bool) -> list[str]:
    """The order the local server's rule (testing.mongo.sort_key) gives, ties by run id."""
    path = normalize_key(key)
    assert path is not None
    docs = sorted(documents(RECORDS), key=lambda d: d["name"])
    return [d["name"] for d in sorted(docs, key=lambda d: sort_key(get_path(d, path)), reverse=descending)]


@pytest.mark.parametrize(
    "key", ["summary_metrics.loss", "config.lr", "config.mixed", "config.opt", "created_at", "config.bs", "display_name"]
)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_server_order(key: str, descending: bool) -> None:
    spec = ("-" if descending else "+") + key
    assert _ids(sort_table(TABLE, spec)) == _server_order(key, descending)


def test_nulls_first_then_nan_ascending_and_ties_by_id() -> None:
    t = pa.table({"id": ["d", "c", "b", "a", "e"], "summary.x": [1.0, None, math.nan, 1.0, None]})
    assert _ids(sort_table(t, "+summary.x")) == ["c", "e", "b", "a", "d"]
    assert _ids(sort_table(t, "-summary.x")) == ["a", "d", "b", "c", "e"]


def test_sort_missing_column_orders_by_id() -> None:
    t = pa.table({"id": ["b", "a"]})
    assert _ids(sort_table(t, "-config.nope")) == ["a", "b"]


def test_sort_list_column_is_unsupported() -> None:
    with pytest.raises(UnsupportedFilterError):
        sort_table(TABLE, "tags")
