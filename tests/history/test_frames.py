"""Property and example tests of the pure history conversions."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.errors import SchemaError
from wandb_frames.history.frames import (
    LONG_SCHEMA,
    decode_rows,
    long_to_wide,
    rows_to_wide,
    wide_to_long,
)

METRICS = ["loss", "acc", "lr", "nested.x"]

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.text(max_size=3),
    st.just({"_type": "image-file", "path": "x.png"}),
)


@st.composite
def history_rows(draw: Any) -> list[dict[str, Any]]:
    """Rows of one run: sparse metrics, gaps and repeated steps (a resumed run)."""
    steps = draw(st.lists(st.integers(0, 12), min_size=0, max_size=25))
    rows = []
    for i, step in enumerate(steps):
        row: dict[str, Any] = {"_step": step, "_timestamp": 1000.0 + i, "_runtime": float(i)}
        for m in draw(st.lists(st.sampled_from(METRICS), unique=True, max_size=4)):
            v = draw(values)
            if m == "nested.x":
                row["nested"] = {"x": v}
            else:
                row[m] = v
        rows.append(row)
    return rows


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float))


def _expected(rows: list[dict[str, Any]]) -> dict[tuple[int, str], tuple[float, float]]:
    """Reference model: last numeric write wins per (step, metric); value and its timestamp."""
    out: dict[tuple[int, str], tuple[float, float]] = {}
    for row in rows:
        flat = dict(row)
        if "nested" in flat:
            flat["nested.x"] = flat.pop("nested")["x"]
        for k, v in flat.items():
            if k.startswith("_") or not _numeric(v):
                continue
            out[(row["_step"], k)] = (float(v), row["_timestamp"])
    return out


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _long_dict(table: pa.Table) -> dict[tuple[int, str], tuple[float, float]]:
    d = table.to_pydict()
    out: dict[tuple[int, str], tuple[float, float]] = {}
    for s, m, v, t in zip(d["_step"], d["metric"], d["value"], d["_timestamp"], strict=True):
        assert (s, m) not in out, f"duplicate row for step {s} metric {m}"
        out[(s, m)] = (v, t)
    return out


@settings(max_examples=150, deadline=None)
@given(history_rows())
def test_long_has_one_row_per_present_step_metric_last_write_wins(rows: list[dict[str, Any]]) -> None:
    wide, skipped = rows_to_wide(rows)
    part = wide_to_long(wide, run_id="r1")
    assert part.table.schema == LONG_SCHEMA
    got = _long_dict(part.table)
    want = _expected(rows)
    assert got.keys() == want.keys()
    for k, (v, t) in want.items():
        assert _same(got[k][0], v), k
        assert got[k][1] == t, k
    n_non_numeric = sum(
        1
        for row in rows
        for k, v in ({**row, **({"nested.x": row["nested"]["x"]} if "nested" in row else {})}).items()
        if k not in ("nested", "_step", "_timestamp", "_runtime") and not _numeric(v)
    )
    assert sum(skipped.values()) == n_non_numeric
    # Ordered by metric name, then step.
    d = part.table.to_pydict()
    keys = list(zip(d["metric"], d["_step"], strict=True))
    assert keys == sorted(keys)


@settings(max_examples=100, deadline=None)
@given(st.lists(history_rows(), min_size=1, max_size=3))
def test_wide_round_trips_to_long(runs: list[list[dict[str, Any]]]) -> None:
    parts = [wide_to_long(rows_to_wide(rows)[0], run_id=f"run{i}").table for i, rows in enumerate(runs)]
    long = pa.concat_tables(parts)
    wide = long_to_wide(long)
    # Outer join by step: exactly the (run, step) pairs present in long, no more.
    lk = set(zip(long.column("run_id").to_pylist(), long.column("_step").to_pylist(), strict=True))
    wk = list(zip(wide.column("run_id").to_pylist(), wide.column("_step").to_pylist(), strict=True))
    assert len(wk) == len(set(wk)) == len(lk) and set(wk) == lk
    back = wide_to_long(wide).table
    a = {(r, s, m): v for r, s, m, v in zip(*(long.column(c).to_pylist() for c in ("run_id", "_step", "metric", "value")), strict=True)}
    b = {(r, s, m): v for r, s, m, v in zip(*(back.column(c).to_pylist() for c in ("run_id", "_step", "metric", "value")), strict=True)}
    assert a.keys() == b.keys()
    assert all(_same(a[k], b[k]) for k in a)
    assert back.num_rows == long.num_rows


def test_missing_metric_is_null_and_nan_stays_nan() -> None:
    rows = [{"_step": 0, "a": 1.0}, {"_step": 1, "b": float("nan")}, {"_step": 5, "a": 2}]
    wide = long_to_wide(wide_to_long(rows_to_wide(rows)[0], run_id="r").table)
    assert wide.column_names == ["run_id", "_step", "_timestamp", "_runtime", "a", "b"]
    assert wide.column("_step").to_pylist() == [0, 1, 5]
    assert wide.column("a").to_pylist() == [1.0, None, 2.0]
    b = wide.column("b").to_pylist()
    assert b[0] is None and math.isnan(b[1]) and b[2] is None


def test_keys_select_any_not_all() -> None:
    rows = [{"_step": 0, "a": 1.0}, {"_step": 1, "b": 2.0}, {"_step": 2, "a": 3.0, "b": 4.0, "c": 5.0}]
    long = wide_to_long(rows_to_wide(rows)[0], run_id="r", keys=["a", "b"]).table
    assert sorted(set(long.column("metric").to_pylist())) == ["a", "b"]
    assert long.num_rows == 4


def test_media_strings_and_wandb_internal_are_not_values() -> None:
    rows = [{"_step": 0, "img": {"_type": "image-file"}, "s": "x", "l": [1, 2], "_wandb": {"runtime": 3}, "ok": True}]
    wide, skipped = rows_to_wide(rows)
    assert skipped == {"img": 1, "s": 1, "l": 1}
    long = wide_to_long(wide, run_id="r").table
    assert long.column("metric").to_pylist() == ["ok"] and long.column("value").to_pylist() == [1.0]


def test_rows_without_step_are_counted_not_invented() -> None:
    part = wide_to_long(rows_to_wide([{"a": 1.0}, {"_step": 3, "a": 2.0}])[0], run_id="r")
    assert part.table.column("_step").to_pylist() == [3]
    assert part.skipped == {"<rows without _step>": 1}


def test_system_rows_keep_every_sample_in_order() -> None:
    rows = [{"_timestamp": 10.0, "system.cpu": 1.0}, {"_timestamp": 10.0, "system.cpu": 2.0}]
    long = wide_to_long(rows_to_wide(rows)[0], run_id="r", dedup=False).table
    assert long.column("value").to_pylist() == [1.0, 2.0]
    assert long.column("_step").null_count == 2
    # Pivoting on time: one row per timestamp, the last sample of a metric wins.
    wide = long_to_wide(long, index="_timestamp")
    assert wide.num_rows == 1 and wide.column("system.cpu").to_pylist() == [2.0]


def test_struct_columns_from_parquet_are_flattened() -> None:
    t = pa.table({"_step": [0.0, 1.0], "m": pa.array([{"x": 1, "y": "s"}, None]), "name": ["a", None]})
    part = wide_to_long(t, run_id="r")
    assert part.table.column("metric").to_pylist() == ["m.x"]
    assert part.skipped == {"m.y": 1, "name": 1}


def test_wide_without_run_id_is_rejected() -> None:
    with pytest.raises(SchemaError):
        wide_to_long(pa.table({"_step": [0], "a": [1.0]}))


def test_decode_rows_accepts_nan_literals() -> None:
    rows = decode_rows(['{"_step": 0, "a": NaN, "b": Infinity}', '{"_step": 1, "a": 1}'])
    assert math.isnan(rows[0]["a"]) and rows[0]["b"] == math.inf and rows[1]["a"] == 1
