"""Property tests of the deterministic min/max bucket downsampling."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.errors import ConfigurationError
from wandb_frames.history.frames import LONG_SCHEMA
from wandb_frames.history.sampling import downsample_long, minmax_bucket_indices


def _long(values_by_run: list[list[float]]) -> pa.Table:
    run, step, metric, value = [], [], [], []
    for r, vals in enumerate(values_by_run):
        for m in ("a", "b"):
            for s, v in enumerate(vals):
                run.append(f"r{r}")
                step.append(s * 3)
                metric.append(m)
                value.append(v if m == "a" else -v)
    n = len(run)
    return pa.table(
        {
            "run_id": pa.array(run, pa.string()),
            "_step": pa.array(step, pa.int64()),
            "metric": pa.array(metric).dictionary_encode().cast(LONG_SCHEMA.field("metric").type),
            "value": pa.array(value, pa.float64()),
            "_timestamp": pa.array([float(s) for s in step]),
            "_runtime": pa.nulls(n, pa.float64()),
        },
        schema=LONG_SCHEMA,
    )


floats = st.floats(allow_nan=True, allow_infinity=False, width=64)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(floats, max_size=60), min_size=1, max_size=3), st.integers(2, 20))
def test_downsampling_keeps_bucket_extremes_and_is_deterministic(runs: list[list[float]], samples: int) -> None:
    long = _long(runs)
    out = downsample_long(long, samples)
    assert repr(out.to_pydict()) == repr(downsample_long(long, samples).to_pydict())
    assert out.schema == long.schema
    kept = {(r, m, s) for r, m, s in zip(*(out.column(c).to_pylist() for c in ("run_id", "metric", "_step")), strict=True)}
    for r, vals in enumerate(runs):
        for m, sign in (("a", 1.0), ("b", -1.0)):
            series = [sign * v for v in vals]
            n = len(series)
            steps_kept = sorted(s for (rr, mm, s) in kept if rr == f"r{r}" and mm == m)
            if n <= samples:
                assert steps_kept == [3 * i for i in range(n)]
                continue
            assert len(steps_kept) <= samples
            b = samples // 2
            for bucket in range(b):
                idx = [i for i in range(n) if i * b // n == bucket]
                nums = [i for i in idx if not math.isnan(series[i])]
                if not nums:
                    assert 3 * idx[0] in steps_kept
                    continue
                lo = min(nums, key=lambda i: (series[i], i))
                hi = max(nums, key=lambda i: (series[i], -i))
                assert 3 * lo in steps_kept and 3 * hi in steps_kept


def test_subset_of_input_rows() -> None:
    long = _long([list(np.sin(np.arange(1000) / 10.0))])
    out = downsample_long(long, 50)
    assert out.num_rows <= 100
    rows_in = set(zip(*(long.column(c).to_pylist() for c in ("run_id", "_step", "metric", "value")), strict=True))
    rows_out = set(zip(*(out.column(c).to_pylist() for c in ("run_id", "_step", "metric", "value")), strict=True))
    assert rows_out <= rows_in


def test_samples_below_two_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        downsample_long(_long([[1.0, 2.0]]), 1)
    with pytest.raises(ConfigurationError):
        minmax_bucket_indices(np.zeros(1, np.int64), np.zeros(1), 0)
