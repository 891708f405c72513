"""Property: the local pyarrow evaluation selects exactly what mongomock selects on W&B documents."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import event, given
from hypothesis import strategies as st

from filters.strategies import filters, has_operator, records
import wandb_frames.filters.accessor  # noqa: F401 - registers df.wb
from filters.support import documents, local_ids, oracle_ids, table_of
from wandb_frames.errors import FilterError, UnsupportedFilterError
from wandb_frames.filters import mask, parse_filter, split, to_server
from wandb_frames.filters.operators import OPERATORS_BY_NAME
from wandb_frames.tabular import table_to_pandas
from wandb_frames.testing.mongo import select_ids


def _local_or_unsupported(table: pa.Table, f: Any, spec: Any) -> list[str] | None:
    """Ids the local backend selects for ``f`` (part of ``spec``), or None when it declines."""
    try:
        return local_ids(table, f)
    except UnsupportedFilterError as exc:
        # One answer per question: the only filters the local backend declines here are
        # $exists on a column with null cells (explicit null or missing: it cannot tell).
        assert exc.operator == "$exists" and exc.backend == "arrow", exc
        assert has_operator(spec, "$exists")
        event("local backend declines $exists over null cells")
        return None


@given(records(), filters())
def test_local_and_split_match_mongomock(recs: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    """mask() == mongomock on W&B documents (explicit nulls kept); df.wb.where() the same; and
    server part (mongomock) + local part == the same. Where the local backend cannot tell an
    explicit null from a missing key it raises UnsupportedFilterError, never another answer."""
    table = table_of(recs)
    expected = oracle_ids(recs, spec)
    local = _local_or_unsupported(table, spec, spec)
    if local is not None:
        assert local == expected, json.dumps(spec, default=str)
        frame = table_to_pandas(table)
        try:
            assert [str(i) for i in frame.wb.where(spec)["id"]] == expected, json.dumps(spec, default=str)
        except UnsupportedFilterError as exc:
            # NaN is missing in a pandas frame: a null test on a float column with NaN is declined.
            assert exc.backend == "pandas" and exc.operator in ("$eq", "$ne", "$in", "$nin", "$exists"), exc
            event("pandas frame declines a null test where NaN is missing")

    plan = split(parse_filter(spec))
    server_ids = set(select_ids(to_server(plan.server) if plan.server else {}, documents(recs)))
    fetched = table.filter(pa.array([i in server_ids for i in table.column("id").to_pylist()], pa.bool_()))
    final = _local_or_unsupported(fetched, plan.local, spec) if plan.local is not None else None
    if plan.local is None:
        final = fetched.column("id").to_pylist()
    if final is not None:
        assert final == expected, (json.dumps(spec, default=str), plan.notes)


_FUZZ_KEYS = st.one_of(
    st.sampled_from(sorted(OPERATORS_BY_NAME) + ["$elemMatch", "$type", "$foo", "$"]),
    st.sampled_from(["state", "tags", "created_at", "config.lr", "config.a.value.b", "summary.x",
                     "summary_metrics", "id", "Name", "config.", "config\\.x", "system.cpu"]),
    st.text(max_size=6),
)
_FUZZ_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    | st.sampled_from(["2024-01-01", "(?=a)", "[", "^a.*"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_FUZZ_KEYS, children, max_size=3),
    max_leaves=12,
)


@given(_FUZZ_JSON)
def test_parser_never_crashes(spec: Any) -> None:
    """Arbitrary JSON compiles (both ways) or raises FilterError; nothing else escapes."""
    try:
        f = parse_filter(spec)
    except FilterError:
        return
    if f is None:
        return
    try:
        to_server(f)
    except FilterError:
        pass
    try:
        mask(pa.table({"id": ["a"], "state": ["x"], "tags": [["a"]], "config.lr": [1.0]}), f)
    except FilterError:
        pass
