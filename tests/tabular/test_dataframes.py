"""table_to_pandas / table_to_polars / with_pandas_attrs on hand-made tables (no server).

The rule (docs/frames.md, "pandas frames"): in pandas NaN is missing, with every
``dtype_backend``; ±inf are values; integers stay exact; the Arrow table is left untouched.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.errors import ConfigurationError
from wandb_frames.tabular import (
    JSON_ENCODING_KEY,
    nan_as_null,
    table_to_pandas,
    table_to_polars,
    with_pandas_attrs,
)

BACKENDS: list[Any] = [None, "numpy_nullable", "pyarrow"]
JSON_FIELD = pa.field("config.warmup", pa.string(), metadata={JSON_ENCODING_KEY: b"json"})


def _table() -> pa.Table:
    return pa.table({
        "loss": pa.array([0.5, math.nan, None, math.inf, -math.inf]),
        "seed": pa.array([2**53 + 1, 2**63 - 1, -(2**63), 7, 2**53 + 3]),
        "batch": pa.array([32, None, 64, 64, 2**60 + 1]),
        "amp": pa.array([True, None, False, True, False]),
        "ok": pa.array([True, False, False, True, True]),
        "tags": pa.array([["a"], [], None, ["a", "b"], ["a"]], pa.list_(pa.string())),
        "when": pa.array([0, 1, None, 3, 4], pa.timestamp("us", tz="UTC")),
        "never": pa.nulls(5),
        "metric": pa.array(["loss", "acc", "loss", "acc", "loss"]).dictionary_encode(),
        "name": pa.array(["a", None, "c", "d", "e"]),
    })


def test_default_backend_dtypes() -> None:
    df = table_to_pandas(_table())
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == {
        "loss": "float64", "seed": "int64", "batch": "Int64", "amp": "boolean", "ok": "bool",
        "tags": "object", "when": "datetime64[us, UTC]", "never": "object", "metric": "category",
        "name": "str",
    }
    assert df["loss"].isna().tolist() == [False, True, True, False, False]
    assert df["loss"].tolist()[3:] == [math.inf, -math.inf]
    assert df["seed"].tolist() == [2**53 + 1, 2**63 - 1, -(2**63), 7, 2**53 + 3]
    assert df["batch"].tolist() == [32, pd.NA, 64, 64, 2**60 + 1]
    assert df["amp"].tolist() == [True, pd.NA, False, True, False]
    assert df["tags"].tolist() == [("a",), (), None, ("a", "b"), ("a",)]
    assert df["never"].tolist() == [None] * 5


def test_numpy_nullable_backend_dtypes() -> None:
    df = table_to_pandas(_table(), dtype_backend="numpy_nullable")
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == {
        "loss": "Float64", "seed": "Int64", "batch": "Int64", "amp": "boolean", "ok": "boolean",
        "tags": "object", "when": "datetime64[us, UTC]", "never": "object", "metric": "category",
        "name": "string",
    }
    assert df["loss"].isna().tolist() == [False, True, True, False, False]
    assert df["tags"].tolist() == [("a",), (), None, ("a", "b"), ("a",)]


def test_pyarrow_backend_makes_nan_null_and_keeps_arrow_types() -> None:
    table = _table()
    df = table_to_pandas(table, dtype_backend="pyarrow")
    for name in table.column_names:
        expected = "category" if name == "metric" else str(pd.ArrowDtype(table.schema.field(name).type))
        assert str(df[name].dtype) == expected
    assert df["loss"].isna().tolist() == [False, True, True, False, False]
    assert df["loss"].mean() == pytest.approx(math.nan, nan_ok=True)  # inf + -inf, nothing else
    assert df["loss"].iloc[:1].mean() == 0.5
    assert table["loss"].to_pylist()[1] != table["loss"].to_pylist()[1]  # the table keeps its NaN


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_mean_and_dropna_skip_nan(backend: Any) -> None:
    table = pa.table({"g": ["a", "a", "b", "b"], "loss": [0.5, math.nan, 0.25, None]})
    df = table_to_pandas(table, dtype_backend=backend)
    assert df.groupby("g")["loss"].mean().to_dict() == {"a": 0.5, "b": 0.25}
    assert len(df.dropna()) == 2 and df["loss"].isna().sum() == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_columns_listed_in_attrs(backend: Any) -> None:
    table = pa.Table.from_arrays([pa.array(["4000", '"auto"'])], schema=pa.schema([JSON_FIELD]))
    assert table_to_pandas(table, dtype_backend=backend).attrs == {"wandb_frames": {"json_columns": ["config.warmup"]}}


def test_empty_table_keeps_columns() -> None:
    df = table_to_pandas(_table().slice(0, 0))
    assert list(df.columns) == _table().column_names and len(df) == 0
    assert str(df["seed"].dtype) == "int64" and df["tags"].dtype == object


def test_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="dtype_backend must be one of None, 'numpy_nullable', 'pyarrow'"):
        table_to_pandas(_table(), dtype_backend="numpy")  # type: ignore[arg-type]


def test_nan_as_null_keeps_metadata_and_infinity() -> None:
    schema = pa.schema([pa.field("x", pa.float64(), metadata={b"k": b"v"}), JSON_FIELD], metadata={b"s": b"1"})
    table = pa.Table.from_arrays([pa.array([math.nan, math.inf, None]), pa.array(["1", None, "2"])], schema=schema)
    out = nan_as_null(table)
    assert out["x"].to_pylist() == [None, math.inf, None]
    assert out.schema.equals(table.schema, check_metadata=True)
    untouched = pa.table({"x": [1.0, None]})
    assert nan_as_null(untouched) is untouched


def test_wide_frames_convert_without_fragmentation_warnings() -> None:
    columns = {f"config.c{k}": pa.array([k, None, 2**60]) for k in range(300)}
    columns.update({f"config.l{k}": pa.array([[k], None, []], pa.list_(pa.int64())) for k in range(300)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = table_to_pandas(pa.table(columns))
    assert df["config.c299"].tolist() == [299, pd.NA, 2**60] and df["config.l7"].tolist() == [(7,), None, ()]


# ----------------------------------------------------------------------------- properties

floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
ints = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))


@given(st.lists(floats, max_size=30), st.sampled_from(BACKENDS))
def test_float_column_missing_exactly_where_null_or_nan(values: list[float | None], backend: Any) -> None:
    df = table_to_pandas(pa.table({"x": pa.array(values, pa.float64())}), dtype_backend=backend)
    missing = [v is None or math.isnan(v) for v in values]
    assert df["x"].isna().tolist() == missing
    assert [float(v) for v in df["x"].dropna()] == [v for v, m in zip(values, missing, strict=True) if not m]


@given(st.lists(ints, max_size=30), st.sampled_from(BACKENDS))
def test_int_column_values_exact(values: list[int | None], backend: Any) -> None:
    df = table_to_pandas(pa.table({"x": pa.array(values, pa.int64())}), dtype_backend=backend)
    assert [None if pd.isna(v) else int(v) for v in df["x"]] == values


@given(st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=4)), max_size=20))
def test_list_column_values_as_tuples(values: list[list[str | None] | None]) -> None:
    df = table_to_pandas(pa.table({"x": pa.array(values, pa.list_(pa.string()))}))
    assert df["x"].tolist() == [None if v is None else tuple(v) for v in values]
    assert df["x"].nunique() == len({tuple(v) for v in values if v is not None})


# ----------------------------------------------------------------------------- parquet, polars


def test_with_pandas_attrs_lets_pyarrow_to_pandas_set_attrs() -> None:
    table = pa.Table.from_arrays([pa.array(["a", "b"]), pa.array(["4000", '"auto"'])],
                                 schema=pa.schema([pa.field("id", pa.string()), JSON_FIELD]))
    frame = with_pandas_attrs(table).to_pandas()
    assert frame.attrs == {"wandb_frames": {"json_columns": ["config.warmup"]}}
    assert frame.columns.tolist() == ["id", "config.warmup"] and isinstance(frame.index, pd.RangeIndex)
    assert with_pandas_attrs(table.select(["id"])).schema.metadata is None


def test_with_pandas_attrs_keeps_a_dataframes_own_metadata() -> None:
    source = pd.DataFrame({"v": ["1", "x"]}, index=pd.Index(["r0", "r1"], name="run"))
    source.attrs = {"mine": 1}
    table = pa.Table.from_pandas(source)
    field = table.schema.field("v").with_metadata({JSON_ENCODING_KEY: b"json"})
    table = table.cast(table.schema.set(table.schema.get_field_index("v"), field))
    frame = with_pandas_attrs(table).to_pandas()
    assert frame.index.tolist() == ["r0", "r1"] and frame.index.name == "run"
    assert frame.attrs == {"mine": 1, "wandb_frames": {"json_columns": ["v"]}}


def test_table_to_polars_keeps_nan_null_ints_and_lists() -> None:
    pl = pytest.importorskip("polars")
    frame = table_to_polars(_table())
    assert frame.schema["loss"] == pl.Float64 and frame.schema["metric"] == pl.Categorical
    assert frame["loss"].is_nan().to_list() == [False, True, None, False, False]
    assert frame["loss"].null_count() == 1
    assert frame["seed"].to_list() == [2**53 + 1, 2**63 - 1, -(2**63), 7, 2**53 + 3]
    assert frame["tags"].to_list() == [["a"], [], None, ["a", "b"], ["a"]]
    assert str(frame.schema["when"]) == "Datetime(time_unit='us', time_zone='UTC')"


def test_table_to_polars_without_polars_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # `import polars` raises ImportError
    with pytest.raises(ConfigurationError, match=r"wandb-frames\[polars\]"):
        table_to_polars(_table())


def test_numpy_arrays_are_not_left_in_object_columns() -> None:
    df = table_to_pandas(_table())
    assert not any(isinstance(v, np.ndarray) for v in df["tags"])
    assert all(isinstance(x, str) for v in df["tags"].dropna() for x in v)


def test_a_tables_pandas_index_is_restored_and_columns_still_fixed() -> None:
    source = pd.DataFrame({"seed": pd.array([2**60 + 1, None], dtype="Int64"), "tags": [["a"], []]},
                          index=pd.Index(["r0", "r1"], name="run"))
    table = pa.Table.from_pandas(source)
    assert table.column_names == ["seed", "tags", "run"]
    df = table_to_pandas(table)
    assert df.index.tolist() == ["r0", "r1"] and df.index.name == "run"
    assert df["seed"].tolist() == [2**60 + 1, pd.NA] and df["tags"].tolist() == [("a",), ()]
