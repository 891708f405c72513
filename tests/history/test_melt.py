"""The zero-copy melt of step-ordered wide tables equals the general, deduplicating path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.history.frames import LONG_SCHEMA, wide_to_long
from wandb_frames.history.melt import assemble, melt_sorted

COLUMN_KINDS = ("float", "int", "bool", "text")


@st.composite
def sorted_wide(draw: Any) -> pa.Table:
    """A wide table with strictly increasing ``_step`` and sparse columns of several types."""
    steps = sorted(draw(st.sets(st.integers(0, 10**6), max_size=30)))
    n = len(steps)
    cols: dict[str, pa.Array] = {
        "_step": pa.array(steps, pa.int64()),
        "_timestamp": pa.array(draw(st.lists(st.none() | st.floats(0, 2e9), min_size=n, max_size=n)), pa.float64()),
        "_runtime": pa.array([float(i) for i in range(n)], pa.float64()),
    }
    for i, kind in enumerate(draw(st.lists(st.sampled_from(COLUMN_KINDS), max_size=5))):
        name = f"m{i}/{kind}"
        present = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if kind == "float":
            vals = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
            cols[name] = pa.array([v if p else None for v, p in zip(vals, present, strict=True)], pa.float64())
        elif kind == "int":
            cols[name] = pa.array([i * 7 if p else None for i, p in enumerate(present)], pa.int64())
        elif kind == "bool":
            cols[name] = pa.array([bool(i % 2) if p else None for i, p in enumerate(present)], pa.bool_())
        else:
            cols[name] = pa.array(["x" if p else None for p in present], pa.string())
    cols["_wandb.runtime"] = pa.array([1] * n, pa.int64())
    return pa.table(cols)


def _columns(table: pa.Table) -> dict[str, list[Any]]:
    out = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        out[name] = ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]
    return out


@settings(max_examples=80, deadline=None)
@given(sorted_wide(), st.none() | st.lists(st.sampled_from(["m0/float", "m1/int", "m2/text", "zz"]), max_size=3))
def test_fast_melt_equals_general_path(wide: pa.Table, keys: list[str] | None) -> None:
    assert melt_sorted(wide, keys=keys) is not None
    fast = wide_to_long(wide, run_id="r", keys=keys)
    # With a run_id column instead of the argument, wide_to_long takes the general path.
    general = wide_to_long(wide.append_column("run_id", pa.array(["r"] * wide.num_rows, pa.string())), keys=keys)
    assert fast.table.schema == LONG_SCHEMA
    assert _columns(fast.table) == _columns(general.table)
    assert fast.skipped == general.skipped


def test_melt_declines_what_needs_deduplication() -> None:
    base = {"a": pa.array([1.0, 2.0, 3.0])}
    assert melt_sorted(pa.table({"_step": pa.array([0, 1, 1]), **base})) is None  # repeated step
    assert melt_sorted(pa.table({"_step": pa.array([0, 2, 1]), **base})) is None  # out of order
    assert melt_sorted(pa.table({"_step": pa.array([0, None, 2]), **base})) is None  # row without a step
    assert melt_sorted(pa.table({"_step": pa.array([0.0, 1.0, 2.0]), **base})) is None  # float steps
    assert melt_sorted(pa.table(base)) is None
    assert melt_sorted(pa.table({"_step": pa.array([0, 1, 2**63], pa.uint64()), **base})) is None  # beyond int64
    assert melt_sorted(pa.table({"_step": pa.array([0, 1, 5], pa.int32()), **base})) is not None


def test_dense_metrics_share_the_export_buffers() -> None:
    step = pa.array(np.arange(1000, dtype=np.int64))
    loss = pa.array(np.linspace(0, 1, 1000))
    sparse = pa.array([float(i) if i % 10 == 0 else None for i in range(1000)], pa.float64())
    table = assemble("r", [m for m in [melt_sorted(pa.table({"_step": step, "loss": loss, "eval": sparse}))] if m])
    assert table is not None and table.schema == LONG_SCHEMA
    assert table.column("metric").to_pylist() == ["eval"] * 100 + ["loss"] * 1000
    value_chunks = table.column("value").chunks
    step_chunks = table.column("_step").chunks
    assert value_chunks[1].buffers()[1].address == loss.buffers()[1].address
    assert step_chunks[1].buffers()[1].address == step.buffers()[1].address
    assert table.column("_step").to_pylist()[:3] == [0, 10, 20]
    assert table.get_total_buffer_size() < table.nbytes


def test_assemble_joins_disjoint_parts_and_refuses_overlaps() -> None:
    export = melt_sorted(pa.table({"_step": pa.array([0, 1, 2]), "loss": pa.array([1.0, 2.0, 3.0]),
                                   "acc": pa.array([None, 0.5, None], pa.float64())}))
    tail = melt_sorted(pa.table({"_step": pa.array([3, 4]), "loss": pa.array([4.0, 5.0]),
                                 "zeta": pa.array([9.0, None])}))
    again = melt_sorted(pa.table({"_step": pa.array([2]), "loss": pa.array([30.0])}))
    empty = melt_sorted(pa.table({"_step": pa.array([], pa.int64()), "loss": pa.array([], pa.float64())}))
    assert export and tail and again and empty
    table = assemble("run1", [export, empty, tail])
    assert table is not None
    d = table.to_pydict()
    assert list(zip(d["metric"], d["_step"], d["value"], strict=True)) == [
        ("acc", 1, 0.5), ("loss", 0, 1.0), ("loss", 1, 2.0), ("loss", 2, 3.0), ("loss", 3, 4.0),
        ("loss", 4, 5.0), ("zeta", 3, 9.0),
    ]
    assert set(d["run_id"]) == {"run1"} and d["_timestamp"] == [None] * 7
    assert assemble("run1", [export, again]) is None  # step 2 written twice: dedup path needed
    assert assemble("run1", [empty]) == LONG_SCHEMA.empty_table()
