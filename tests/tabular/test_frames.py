"""Typing rules of docs/frames.md as data, plus column order, run columns and pandas."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wandb_frames.errors import ConfigurationError, FlattenCollisionWarning, LossyConversionWarning
from wandb_frames.tabular import (
    JSON_ENCODING_KEY,
    RUN_COLUMNS,
    TableAssembler,
    empty_runs_table,
    runs_to_table,
    table_to_pandas,
)

from .conftest import Collect

MISSING = object()
NAN, INF = math.nan, math.inf
T0 = datetime(2024, 1, 1, tzinfo=UTC)
IMG = {"_type": "image-file", "path": "a.png"}

# name, values of config.k in runs 0..n (MISSING: key absent), Arrow type, JSON text?,
# LossyConversionWarning expected?, expected cells (JSON text for JSON columns).
TYPING_RULES: list[tuple[str, list[Any], pa.DataType, bool, bool, list[Any]]] = [
    ("int_stays_int64", [1, -2], pa.int64(), False, False, [1, -2]),
    ("int_and_float_widen_to_float64", [1, 0.5], pa.float64(), False, False, [1.0, 0.5]),
    ("int_2_53_with_float_exact", [2**53, 0.5], pa.float64(), False, False, [float(2**53), 0.5]),
    ("int_beyond_2_53_with_float_rounds_and_warns", [2**53 + 1, 0.5], pa.float64(), False, True,
     [float(2**53 + 1), 0.5]),
    ("int_beyond_int64_is_json_text", [2**63, 1], pa.string(), True, True, ["9223372036854775808", "1"]),
    ("bool_stays_bool", [True, False], pa.bool_(), False, False, [True, False]),
    ("bool_and_int_are_mixed_kinds", [1, True], pa.string(), True, True, ["1", "true"]),
    ("bool_and_float_are_mixed_kinds", [1.5, True], pa.string(), True, True, ["1.5", "true"]),
    ("float_and_string_are_mixed_kinds", [0.1, "auto"], pa.string(), True, True, ["0.1", '"auto"']),
    ("nan_and_infinity_stay_float", [NAN, INF, -INF], pa.float64(), False, False, [NAN, INF, -INF]),
    ("nan_and_infinity_json_text", [NAN, INF, -INF, "x"], pa.string(), True, True,
     ["NaN", "Infinity", "-Infinity", '"x"']),
    ("strings_are_string", ["a", "é"], pa.string(), False, False, ["a", "é"]),
    ("null_and_missing_are_null", [None, MISSING, 3], pa.int64(), False, False, [None, None, 3]),
    ("all_null_is_null_type", [None, None], pa.null(), False, False, [None, None]),
    ("list_of_ints", [[1, 2], [3], None], pa.list_(pa.int64()), False, False, [[1, 2], [3], None]),
    ("list_of_ints_and_floats", [[1, 2.5]], pa.list_(pa.float64()), False, False, [[1.0, 2.5]]),
    ("lists_int_then_float_widen", [[1], [2.5]], pa.list_(pa.float64()), False, False, [[1.0], [2.5]]),
    ("list_of_strings_with_empty", [["a"], []], pa.list_(pa.string()), False, False, [["a"], []]),
    ("list_with_null_elements", [[1, None]], pa.list_(pa.int64()), False, False, [[1, None]]),
    ("list_of_bools", [[True], [False, None]], pa.list_(pa.bool_()), False, False, [[True], [False, None]]),
    ("only_empty_lists", [[], []], pa.list_(pa.null()), False, False, [[], []]),
    ("list_of_mixed_elements_is_json", [[1, "a"]], pa.string(), True, False, ['[1,"a"]']),
    ("list_of_bools_and_ints_is_json", [[True, 1]], pa.string(), True, False, ["[true,1]"]),
    ("list_of_dicts_is_json", [[{"k": 3}], []], pa.string(), True, False, ['[{"k":3}]', "[]"]),
    ("nested_lists_are_json", [[[1, 2]]], pa.string(), True, False, ["[[1,2]]"]),
    ("list_elements_differ_across_runs_is_json", [[1], ["a"]], pa.string(), True, False, ["[1]", '["a"]']),
    ("list_and_scalar_are_mixed_kinds", [[1], 1], pa.string(), True, True, ["[1]", "1"]),
    ("media_dict_is_json_text", [IMG, None], pa.string(), True, False, ['{"_type":"image-file","path":"a.png"}', None]),
    ("media_dict_and_number_are_mixed_kinds", [IMG, 0.5], pa.string(), True, True,
     ['{"_type":"image-file","path":"a.png"}', "0.5"]),
    ("empty_dict_is_json_text", [{}, None], pa.string(), True, False, ["{}", None]),
    ("datetimes_are_utc_timestamps", [T0, datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
                                      datetime(2024, 1, 1)],
     pa.timestamp("us", tz="UTC"), False, False, [T0, T0, T0]),
    ("lone_surrogate_string_is_escaped_json", ["\ud800", "a"], pa.string(), True, True, ['"\\ud800"', '"a"']),
]


def _runs(values: list[Any]) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "config": {} if v is MISSING else {"k": v}} for i, v in enumerate(values)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@pytest.mark.parametrize("page_size", [1000, 1], ids=["one_page", "page_per_run"])
@pytest.mark.parametrize(
    ("name", "values", "arrow_type", "is_json", "warns", "cells"), TYPING_RULES, ids=[r[0] for r in TYPING_RULES]
)
def test_typing_rule(
    collect: Collect,
    page_size: int,
    name: str,
    values: list[Any],
    arrow_type: pa.DataType,
    is_json: bool,
    warns: bool,
    cells: list[Any],
) -> None:
    table, caught = collect(lambda: runs_to_table(_runs(values), page_size=page_size))
    assert table.num_rows == len(values)
    field = table.schema.field("config.k")
    assert field.type == arrow_type
    assert (field.metadata or {}).get(JSON_ENCODING_KEY) == (b"json" if is_json else None)
    lossy = [w for w in caught if w.category is LossyConversionWarning]
    assert len(lossy) == (1 if warns else 0), [str(w.message) for w in caught]
    if warns:
        assert "config.k" in str(lossy[0].message)
    got = table.column("config.k").to_pylist()
    assert all(_same(g, c) for g, c in zip(got, cells, strict=True)), got


def test_scalar_in_one_run_dict_in_another_gives_two_columns(collect: Collect) -> None:
    runs = [{"id": "a", "config": {"a": 1}}, {"id": "b", "config": {"a": {"b": 2}}}]
    table, caught = collect(lambda: runs_to_table(runs))
    assert table.column_names == ["id", "config.a", "config.a.b"]
    assert table.column("config.a").to_pylist() == [1, None]
    assert table.column("config.a.b").to_pylist() == [None, 2]
    assert caught == []


def test_one_lossy_warning_names_every_mixed_column() -> None:
    runs = [{"id": "a", "config": {"x": 1, "y": "s", "z": 1}}, {"id": "b", "config": {"x": "auto", "y": True, "z": 2}}]
    with pytest.warns(LossyConversionWarning) as record:
        runs_to_table(runs, page_size=1)
    assert len(record) == 1
    assert "config.x" in str(record[0].message) and "config.y" in str(record[0].message)
    assert "config.z" not in str(record[0].message)


def test_column_order_run_columns_then_groups_by_first_appearance() -> None:
    runs = [
        {"zeta": 1, "summary": {"s2": 1}, "config": {"c2": 1}, "state": "finished", "id": "a"},
        {"metadata": {"gpu": "A100"}, "system": {"cpu": 1.0}, "config": {"c1": 1, "c2": 2}, "name": "n", "id": "b",
         "alpha": 2, "summary": {"s1": 2}},
    ]
    table = runs_to_table(runs, page_size=1)
    assert table.column_names == [
        "id", "name", "state", "config.c2", "config.c1", "summary.s2", "summary.s1", "system.cpu",
        "metadata.gpu", "zeta", "alpha",
    ]


def test_run_columns_keep_contract_types() -> None:
    runs = [{"id": "a", "created_at": T0, "heartbeat_at": None, "duration": 3, "tags": [], "notes": None,
             "sweep": None}]
    schema = runs_to_table(runs).schema
    expected = empty_runs_table().schema
    for name in ("id", "created_at", "heartbeat_at", "duration", "tags", "notes", "sweep"):
        assert schema.field(name).type == expected.field(name).type, name


def test_empty_runs_table_has_run_columns_and_types() -> None:
    table = empty_runs_table()
    assert table.num_rows == 0 and tuple(table.column_names) == RUN_COLUMNS
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.schema.field("duration").type == pa.float64()


def test_empty_input_gives_empty_runs_table() -> None:
    assert runs_to_table([]).equals(empty_runs_table())
    assembler = TableAssembler()
    assembler.add([])
    assert assembler.finish().equals(empty_runs_table())


def test_assembler_pages_unify_schema_and_count_rows() -> None:
    assembler = TableAssembler()
    assembler.add([{"id": "a", "summary.x": 1}])
    assembler.add([{"id": "b"}, {"id": "c", "summary.x": 2.5, "summary.y": "s"}])
    assert assembler.num_rows == 3
    table = assembler.finish()
    assert table.column("summary.x").to_pylist() == [1.0, None, 2.5]
    assert table.column("summary.y").to_pylist() == [None, None, "s"]


def test_runs_to_table_one_collision_warning_for_many_runs() -> None:
    runs = [{"id": str(i), "config": {"a.b": i, "a": {"b": -i}}} for i in range(50)]
    with pytest.warns(FlattenCollisionWarning) as record:
        table = runs_to_table(runs, page_size=7)
    assert len(record) == 1
    assert table.column("config.a\\.b").to_pylist() == list(range(50))
    assert table.column("config.a.b").to_pylist() == [-i for i in range(50)]


@pytest.mark.parametrize("page_size", [0, -1, 1.5])
def test_runs_to_table_bad_page_size_raises(page_size: Any) -> None:
    with pytest.raises(ConfigurationError):
        runs_to_table([], page_size=page_size)


def test_table_to_pandas_numpy_dtypes_and_json_columns(collect: Collect) -> None:
    runs = [{"id": "a", "created_at": T0, "tags": ["x"], "summary": {"img": IMG, "loss": 0.5, "n": None, "ok": True}}]
    df, _ = collect(lambda: table_to_pandas(runs_to_table(runs)))
    assert df.attrs["wandb_frames"]["json_columns"] == ["summary.img"]
    assert df["summary.loss"].dtype == np.float64 and df["summary.ok"].dtype == np.bool_
    assert df["summary.n"].dtype == object and df.loc[0, "summary.n"] is None
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"
    assert df.loc[0, "created_at"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert df.loc[0, "tags"] == ("x",)
    empty = table_to_pandas(empty_runs_table())
    assert list(empty.columns) == list(RUN_COLUMNS) and len(empty) == 0


def test_table_to_pandas_pyarrow_backend_keeps_arrow_dtypes(collect: Collect) -> None:
    runs = [{"id": "a", "created_at": T0, "tags": ["x"], "summary": {"img": IMG, "loss": 0.5, "n": None, "ok": True}}]
    df, _ = collect(lambda: table_to_pandas(runs_to_table(runs), dtype_backend="pyarrow"))
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in df.dtypes)
    assert df.attrs["wandb_frames"]["json_columns"] == ["summary.img"]
    assert df["summary.loss"].dtype == pd.ArrowDtype(pa.float64())
    assert df["summary.n"].dtype == pd.ArrowDtype(pa.null())
    assert df.loc[0, "created_at"] == pd.Timestamp("2024-01-01", tz="UTC")


def test_parquet_round_trip_keeps_types_and_json_metadata() -> None:
    runs = [{"id": "a", "tags": [], "config": {"x": 1, "n": None, "e": []}, "summary": {"img": IMG}},
            {"id": "b", "tags": ["t"], "config": {"x": "auto", "n": None, "e": []}}]
    with pytest.warns(LossyConversionWarning):
        table = runs_to_table(runs)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    back = pq.read_table(buffer)
    assert back.schema.equals(table.schema, check_metadata=False)
    assert back.schema.field("config.x").metadata == {JSON_ENCODING_KEY: b"json"}
    assert back.to_pylist() == table.to_pylist()


def test_frames_doc_names_only_existing_tests() -> None:
    """Every test and typing rule named in docs/frames.md exists, and every typing rule is documented."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "frames.md").read_text(encoding="utf-8")
    sources = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    defined = set(re.findall(r"def (test_\w+)", sources))
    named = set(re.findall(r"`(test_\w+)", doc))
    assert named and named <= defined, named - defined
    rules = {rule[0] for rule in TYPING_RULES}
    documented = set(re.findall(r"`(\w+)`", doc)) | set(re.findall(r"test_typing_rule\[(\w+)\]", doc))
    assert rules <= documented, rules - documented
    table_rules = {name for cell in re.findall(r"\| ([`\w, ]+) \|\n", doc) for name in re.findall(r"`(\w+)`", cell)}
    assert table_rules == rules, table_rules ^ rules
