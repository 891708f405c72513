"""The local backend: pushdown expressions, chunking, column shapes, pandas entry points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from filters.support import table_of
from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import apply, mask, parse_filter, to_arrow_expression
from wandb_frames.filters.keys import resolve_key
from wandb_frames.tabular import JSON_ENCODING_KEY, table_to_pandas

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "filters"
RECORDS = json.loads((FIXTURES / "runs.json").read_text())
CASES = [json.loads(line) for line in (FIXTURES / "cases.jsonl").read_text().splitlines() if line.strip()]
TABLE = table_of(RECORDS)
LOCAL_CASES = [c for c in CASES if c.get("local") != "unsupported"]


def _field_of(key: str) -> pa.Field | None:
    """The table column holding ``key`` (itself or the nearest enclosing column), if any."""
    column = resolve_key(key).column
    while column and column not in TABLE.column_names:
        column = column.rpartition(".")[0]
    return TABLE.schema.field(column) if column else None


def needs_list_or_json(spec: Any) -> bool:
    """The documented rule: a condition on a JSON-text column, or on a list column other than
    ``$size``, has no Arrow expression (``to_arrow_expression`` returns None)."""
    if isinstance(spec, list):
        return any(needs_list_or_json(item) for item in spec)
    if not isinstance(spec, dict):
        return False
    for key, condition in spec.items():
        if key.startswith("$"):
            if needs_list_or_json(condition):
                return True
            continue
        field = _field_of(key)
        if field is None:
            continue
        if field.metadata is not None and field.metadata.get(JSON_ENCODING_KEY) == b"json":
            return True
        if pa.types.is_list(field.type) and not (isinstance(condition, dict) and set(condition) == {"$size"}):
            return True
    return False


EXPRESSIBLE = [c for c in LOCAL_CASES if not needs_list_or_json(c["filter"])]
DECLINED = [c for c in LOCAL_CASES if needs_list_or_json(c["filter"])]


def ids(table: pa.Table) -> list[str]:
    return [str(x) for x in table.column("id").to_pylist()]


def test_case_groups_cover_every_local_case() -> None:
    assert len(EXPRESSIBLE) + len(DECLINED) == len(LOCAL_CASES)
    assert EXPRESSIBLE and DECLINED


@pytest.mark.parametrize("case", EXPRESSIBLE, ids=[c["name"] for c in EXPRESSIBLE])
def test_expression_agrees_with_mask(case: dict[str, Any]) -> None:
    f = parse_filter(case["filter"])
    expr = to_arrow_expression(f, TABLE.schema)
    assert expr is not None
    assert ids(TABLE.filter(expr)) == case["expected"]
    assert ids(TABLE.filter(mask(TABLE, f))) == case["expected"]


@pytest.mark.parametrize("case", DECLINED, ids=[c["name"] for c in DECLINED])
def test_expression_declines_list_or_json_case(case: dict[str, Any]) -> None:
    """No pushdown expression for these; ``mask`` after reading still selects ``expected``."""
    f = parse_filter(case["filter"])
    assert to_arrow_expression(f, TABLE.schema) is None
    assert ids(TABLE.filter(mask(TABLE, f))) == case["expected"]


def test_expression_declines_list_and_json_columns() -> None:
    assert to_arrow_expression(parse_filter({"tags": "a"}), TABLE.schema) is None
    assert to_arrow_expression(parse_filter({"config.mixed": 1}), TABLE.schema) is None
    assert to_arrow_expression(parse_filter({"tags": {"$size": 1}}), TABLE.schema) is not None
    assert to_arrow_expression(None, TABLE.schema) is not None


def test_parquet_pushdown(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(TABLE, tmp_path / "runs.parquet")
    dataset = ds.dataset(tmp_path / "runs.parquet")
    f = parse_filter("config.lr > 0.005 or state == 'running'")
    expr = to_arrow_expression(f, dataset.schema)
    assert expr is not None
    assert ids(dataset.to_table(filter=expr)) == ["r1", "r3", "r4"]


def test_chunked_table_gives_same_mask() -> None:
    chunked = pa.concat_tables([TABLE.slice(0, 2), TABLE.slice(2)])
    assert chunked.column("tags").num_chunks == 2
    for case in LOCAL_CASES:
        f = parse_filter(case["filter"])
        assert ids(chunked.filter(mask(chunked, f))) == case["expected"], case["name"]


def test_empty_table() -> None:
    empty = TABLE.slice(0, 0)
    assert len(mask(empty, parse_filter({"tags": "a", "config.mixed": 1}))) == 0
    assert apply(empty, "state == 'a'").num_rows == 0


def test_missing_column_is_missing_everywhere() -> None:
    t = pa.table({"id": ["a", "b"]})
    assert mask(t, parse_filter({"config.x": None})).to_pylist() == [True, True]
    assert mask(t, parse_filter({"config.x": {"$ne": 1}})).to_pylist() == [True, True]
    assert mask(t, parse_filter({"config.x": {"$gt": 1}})).to_pylist() == [False, False]
    assert mask(t, parse_filter({"config.x": {"$exists": True}})).to_pylist() == [False, False]


def test_null_typed_column() -> None:
    t = pa.table({"id": ["a"], "config.x": pa.array([None], pa.null())})
    assert mask(t, parse_filter({"config.x": None})).to_pylist() == [True]
    assert mask(t, parse_filter({"config.x": {"$lt": 3}})).to_pylist() == [False]


def test_object_key_from_subcolumns() -> None:
    t = pa.table({"id": ["a", "b"], "config.m.l": [1, None], "config.m.k": pa.array([None, None], pa.string())})
    with pytest.raises(UnsupportedFilterError, match="explicit null"):  # b: {"l": null} or missing?
        mask(t, parse_filter({"config.m": {"$exists": True}}))
    assert mask(t.slice(0, 1), parse_filter({"config.m": {"$exists": True}})).to_pylist() == [True]
    assert mask(t, parse_filter({"config.m": None})).to_pylist() == [False, True]
    assert mask(t, parse_filter({"config.m": {"$ne": 3}})).to_pylist() == [True, True]
    with pytest.raises(UnsupportedFilterError) as info:
        mask(t, parse_filter({"config.m": {"l": 1}}))
    assert info.value.backend == "arrow"


def test_key_below_a_scalar_column_is_missing() -> None:
    t = pa.table({"id": ["a"], "config.m": [3]})
    assert mask(t, parse_filter({"config.m.l": None})).to_pylist() == [True]


def test_key_into_a_list_column_is_unsupported() -> None:
    t = pa.table({"id": ["a"], "config.m": [[1, 2]]})
    with pytest.raises(UnsupportedFilterError):
        mask(t, parse_filter({"config.m.0": 1}))


def test_int_column_with_float_operands() -> None:
    t = pa.table({"id": ["a", "b"], "config.bs": [2, 3]})
    assert mask(t, parse_filter({"config.bs": 2.0})).to_pylist() == [True, False]
    assert mask(t, parse_filter({"config.bs": {"$in": [2.5, 3.0]}})).to_pylist() == [False, True]
    assert mask(t, parse_filter({"config.bs": {"$lt": 2.5}})).to_pylist() == [True, False]
    assert mask(t, parse_filter({"config.bs": 2**70})).to_pylist() == [False, False]


def test_bool_column_is_its_own_bracket() -> None:
    t = pa.table({"id": ["a", "b"], "config.f": [True, False]})
    assert mask(t, parse_filter({"config.f": 1})).to_pylist() == [False, False]
    assert mask(t, parse_filter({"config.f": {"$gt": False}})).to_pylist() == [True, False]


def test_pandas_apply_keeps_index_and_json_columns() -> None:
    df = table_to_pandas(TABLE)
    df.index = pd.Index([10, 11, 12, 13, 14])
    out = apply(df, {"config.mixed": "auto"})
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == [11]
    assert list(apply(df, "'baseline' in tags")["id"]) == ["r1", "r4", "r5"]


def test_pandas_accessor_where_and_sort() -> None:
    import wandb_frames.filters.accessor  # noqa: F401  (registers df.wb)

    df = table_to_pandas(TABLE)
    assert list(df.wb.where("summary.loss < 0.6")["id"]) == ["r1", "r2"]
    assert list(df.wb.sort("-summary.loss")["id"]) == ["r4", "r1", "r2", "r3", "r5"]
