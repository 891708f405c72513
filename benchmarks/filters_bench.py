"""Benchmark: local filter evaluation on a 1,000,000-row runs table.

Compares, for one 6-clause filter (`$or`, `$in`, `$regex`, `$exists`, nested config, a
range), three ways to get the boolean mask:

- ``wandb_frames.filters.mask`` (the compiled filter);
- a hand-written ``pyarrow.compute`` expression of the same filter;
- mongomock ``filter_applies`` per W&B-shaped document, timed on a 10,000-document
  sample and extrapolated to 1,000,000.

Run: ``.venv/bin/python benchmarks/filters_bench.py [rows]``. Prints a table and the ratios
(targets: ≥ 100× faster than mongomock, ≤ 2× the hand-written expression).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.filters import mask, parse_filter, to_server
from wandb_frames.testing.mongo import normalize_filter

FILTER: dict[str, Any] = {
    "$or": [{"state": {"$in": ["finished", "crashed"]}}, {"tags": "baseline"}],
    "display_name": {"$regex": "^exp-1"},
    "config.seed": {"$exists": True},
    "config.model.layers": {"$gte": 4},
    "config.lr": {"$lt": 0.01},
}
STATES = np.array(["finished", "crashed", "running", "failed", "killed"])
TAGS = np.array(["baseline", "v1", "v2", "ablation", "sweep"])


def build_table(n: int, seed: int = 0) -> pa.Table:
    """A synthetic runs table in the runs-frame layout (vectorised; a few seconds for 1M rows)."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("run", np.arange(n).astype(str))
    names = np.char.add("exp-", rng.integers(0, 100, n).astype(str))
    lengths = rng.integers(0, 4, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    tag_values = pa.array(TAGS[rng.integers(0, len(TAGS), int(offsets[-1]))])
    lr = rng.choice([1e-4, 1e-3, 3e-3, 1e-2, 0.1], n)
    lr_mask = rng.random(n) < 0.05
    seed_mask = rng.random(n) < 0.3
    return pa.table(
        {
            "id": pa.array(ids),
            "name": pa.array(names),
            "state": pa.array(STATES[rng.integers(0, len(STATES), n)]),
            "tags": pa.ListArray.from_arrays(pa.array(offsets), tag_values),
            "config.lr": pa.array(lr, mask=lr_mask),
            "config.seed": pa.array(rng.integers(0, 10, n), mask=seed_mask),
            "config.model.layers": pa.array(rng.integers(1, 12, n)),
            "config.model.act": pa.array(np.where(rng.random(n) < 0.5, "relu", "gelu")),
            "summary.loss": pa.array(rng.random(n)),
        }
    )


def hand_written(table: pa.Table) -> pa.Array:
    """The same filter written directly with pyarrow.compute (what an expert would write)."""
    tags = table.column("tags").combine_chunks()
    hits = pc.equal(pc.list_flatten(tags), "baseline")
    parents = pc.list_parent_indices(tags).filter(hits).to_numpy()
    has_tag = np.zeros(len(tags), dtype=bool)
    has_tag[parents] = True
    state = pc.is_in(table.column("state"), value_set=pa.array(["finished", "crashed"]))
    return pc.and_(
        pc.and_(
            pc.or_(pc.fill_null(state, False), pa.array(has_tag)),
            pc.fill_null(pc.match_substring_regex(table.column("name"), "^exp-1"), False),
        ),
        pc.and_(
            pc.is_valid(table.column("config.seed")),
            pc.and_(
                pc.fill_null(pc.greater_equal(table.column("config.model.layers"), 4), False),
                pc.fill_null(pc.less(table.column("config.lr"), 0.01), False),
            ),
        ),
    )


def documents(table: pa.Table) -> list[dict[str, Any]]:
    """W&B-shaped Mongo documents for the rows of ``table`` (for mongomock)."""
    docs = []
    for row in table.to_pylist():
        config: dict[str, Any] = {}
        if row["config.lr"] is not None:
            config["lr"] = {"value": row["config.lr"]}
        if row["config.seed"] is not None:
            config["seed"] = {"value": row["config.seed"]}
        config["model"] = {"value": {"layers": row["config.model.layers"], "act": row["config.model.act"]}}
        docs.append(
            {
                "name": row["id"],
                "displayName": row["name"],
                "state": row["state"],
                "tags": row["tags"],
                "config": config,
                "summary_metrics": {"loss": row["summary.loss"]},
            }
        )
    return docs


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 1_000_000
    sample = min(10_000, rows)
    t0 = time.perf_counter()
    table = build_table(rows)
    built = time.perf_counter() - t0
    f = parse_filter(FILTER)
    if f is None:  # pragma: no cover - FILTER is not empty
        return 1

    t_mask, ours = best_of(lambda: mask(table, f), 5)
    t_hand, theirs = best_of(lambda: hand_written(table), 5)
    if ours.to_pylist() != theirs.to_pylist():
        print("MISMATCH between mask() and the hand-written expression")
        return 1

    from mongomock.filtering import filter_applies as _filter_applies

    filter_applies: Callable[[Any, Any], bool] = _filter_applies
    docs = documents(table.slice(0, sample))
    spec = normalize_filter(to_server(f))
    t_mongo_sample, selected = best_of(lambda: [filter_applies(spec, d) for d in docs], 1)
    expected = ours.slice(0, sample).to_pylist()
    if selected != expected:
        print("MISMATCH between mask() and mongomock on the sample")
        return 1
    t_mongo = t_mongo_sample * rows / sample

    print(f"rows: {rows:,}  (table built in {built:.2f} s; {sum(expected):,} of {sample:,} sample rows match)")
    print(f"{'method':<40} {'seconds':>10} {'rows/s':>14}")
    for label, seconds in (
        ("wandb_frames.filters.mask", t_mask),
        ("hand-written pyarrow.compute", t_hand),
        (f"mongomock per document (x{rows // sample})", t_mongo),
    ):
        print(f"{label:<40} {seconds:>10.4f} {rows / seconds:>14,.0f}")
    print(f"speed-up vs mongomock: {t_mongo / t_mask:,.0f}x (target >= 100x)")
    print(f"mask / hand-written:   {t_mask / t_hand:.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
