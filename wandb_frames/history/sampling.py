"""Deterministic downsampling of long history tables (pure).

The rule: **min/max-preserving buckets**, per ``(run_id, metric)`` series.

* A series with at most ``samples`` points is kept whole.
* Otherwise its points, ordered by ``_step``, are cut into ``B = samples // 2`` buckets of
  (almost) equal count: point ``i`` of ``n`` goes to bucket ``i * B // n``.
* From each bucket the point with the smallest and the one with the largest value are kept
  (one point when they coincide). Ties go to the earliest point. NaN never wins against a
  number; a bucket of only NaN keeps its first point.
* Kept points keep their original ``_step``, ``_timestamp`` and ``_runtime``: the result is a
  subset of the input, never an interpolation, and holds at most ``samples`` points per series.

The same input always gives the same output (no randomness), unlike W&B's server-side
``history(samples=…)``, which returns a different random subset on each call. Peaks and dips
(loss spikes, divergence) survive at any ``samples``; LTTB would keep visual shape better at
very low ``samples`` but may drop a bucket's extreme value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import ConfigurationError

__all__ = ["downsample_long", "minmax_bucket_indices"]


def minmax_bucket_indices(
    series: npt.NDArray[np.int64], values: npt.NDArray[np.float64], samples: int
) -> npt.NDArray[np.int64]:
    """Indices of the points kept by the min/max bucket rule.

    Args:
        series: Series code per point; points of one series must be contiguous and in step order.
        values: The value per point (NaN allowed).
        samples: The largest number of points kept per series (≥ 2).

    Returns:
        Sorted indices into the input.
    """
    if samples < 2:
        raise ConfigurationError(f"samples must be at least 2 (got {samples}); use None for the full history")
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, series[1:] != series[:-1]])
    lengths = np.diff(np.r_[starts, n])
    seg = np.repeat(np.arange(len(starts)), lengths)
    pos = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    seg_len = np.repeat(lengths, lengths)
    n_buckets = samples // 2
    big = seg_len > samples
    if not big.any():
        return np.arange(n, dtype=np.int64)
    # Small series: every point its own bucket; big ones: equal-count buckets.
    bucket = np.where(big, pos * n_buckets // np.maximum(seg_len, 1), pos)
    nan = np.isnan(values)
    filled = np.where(nan, 0.0, values)
    idx = np.arange(n, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    for key in (filled, -filled):
        order = np.lexsort((idx, key, nan, bucket, seg))
        s, b = seg[order], bucket[order]
        first = np.r_[True, (s[1:] != s[:-1]) | (b[1:] != b[:-1])]
        keep[order[first]] = True
    return np.flatnonzero(keep).astype(np.int64)


def downsample_long(long: pa.Table, samples: int) -> pa.Table:
    """Downsample a long history table with the min/max bucket rule (see the module docstring).

    Args:
        long: A long table (``run_id``, ``_step``, ``metric``, ``value``, …), any row order.
        samples: The largest number of points kept per ``(run_id, metric)`` series.

    Returns:
        The kept rows, ordered by run (first appearance), metric, ``_step``; same schema.
    """
    if samples < 2:
        raise ConfigurationError(f"samples must be at least 2 (got {samples}); use None for the full history")
    n = long.num_rows
    if n == 0:
        return long
    run = pc.dictionary_encode(long.column("run_id").combine_chunks())
    metric = long.column("metric").combine_chunks()
    if pa.types.is_dictionary(metric.type):
        metric = metric.cast(pa.string())
    menc = pc.dictionary_encode(metric)
    r = np.asarray(run.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    m = np.asarray(menc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    step = long.column("_step").combine_chunks()
    s = np.asarray(step.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    value = long.column("value").combine_chunks().fill_null(np.nan)
    v = np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.float64)
    order = np.lexsort((np.arange(n), s, m, r))
    series = (r * (int(m.max()) + 1) + m)[order]
    kept = order[minmax_bucket_indices(series, v[order], samples)]
    return long.take(pa.array(kept))
