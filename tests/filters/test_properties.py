"""Property: the local pyarrow evaluation selects exactly what mongomock selects on W&B documents."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from filters.strategies import filters, has_operator, records
from filters.support import local_ids, oracle_ids, table_of
from wandb_frames.errors import FilterError
from wandb_frames.filters import mask, parse_filter, split, to_server
from wandb_frames.filters.operators import OPERATORS_BY_NAME
from wandb_frames.testing.mongo import select_ids
from filters.support import documents, strip_nulls


@given(records(), filters())
def test_local_and_split_match_mongomock(recs: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    """mask() == mongomock on W&B documents; and server part (mongomock) + local part == the same.

    With ``$exists`` in the filter, explicit nulls are removed from the documents first
    (known difference: the runs frame cannot tell null from missing).
    """
    null_is_missing = has_operator(spec, "$exists")
    table = table_of(recs)
    expected = oracle_ids(recs, spec, null_is_missing=null_is_missing)
    assert local_ids(table, spec) == expected, json.dumps(spec, default=str)

    plan = split(parse_filter(spec))
    docs = documents(recs)
    if null_is_missing:
        docs = [strip_nulls(d) for d in docs]
    server_ids = set(select_ids(to_server(plan.server) if plan.server else {}, docs))
    fetched = table.filter(pa.array([i in server_ids for i in table.column("id").to_pylist()], pa.bool_()))
    final = fetched if plan.local is None else fetched.filter(mask(fetched, plan.local))
    assert final.column("id").to_pylist() == expected, (json.dumps(spec, default=str), plan.notes)


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
