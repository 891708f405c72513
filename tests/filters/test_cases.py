"""Golden cases (tests/fixtures/filters/cases.jsonl): one filter through every compiler.

Each case gives the filter (and optionally the same filter as a Python expression), the
expected server JSON (or "unsupported"), and the run ids it selects over
``runs.json``. The local backend and mongomock over W&B-shaped documents must both
select ``expected``; where they differ on purpose the case names mongomock's answer and
the reason (a known difference, asserted so it cannot silently change).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from filters.support import documents, local_ids, oracle_ids, table_of
from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import mask, parse_filter, split, to_server
from wandb_frames.filters.to_server import to_mongo
from wandb_frames.testing.mongo import select_ids

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "filters"
RECORDS: list[dict[str, Any]] = json.loads((FIXTURES / "runs.json").read_text())
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in (FIXTURES / "cases.jsonl").read_text().splitlines() if line.strip()
]
TABLE = table_of(RECORDS)


@pytest.fixture(params=CASES, ids=[c["name"] for c in CASES])
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param  # type: ignore[no-any-return]


def test_case_names_unique() -> None:
    assert len({c["name"] for c in CASES}) == len(CASES)


def test_expression_front_end_builds_same_tree(case: dict[str, Any]) -> None:
    if "expr" not in case:
        pytest.skip("no expression form for this case")
    assert parse_filter(case["expr"]) == parse_filter(case["filter"])


def test_to_server(case: dict[str, Any]) -> None:
    f = parse_filter(case["filter"])
    assert f is not None
    if case["server"] == "unsupported":
        with pytest.raises(UnsupportedFilterError) as info:
            to_server(f)
        assert info.value.backend == "server"
    else:
        assert json.dumps(to_server(f), sort_keys=True) == json.dumps(case["server"], sort_keys=True)


def test_local(case: dict[str, Any]) -> None:
    if case.get("local") == "unsupported":
        with pytest.raises(UnsupportedFilterError) as info:
            local_ids(TABLE, case["filter"])
        assert info.value.backend == "arrow"
    else:
        assert local_ids(TABLE, case["filter"]) == case["expected"]


def test_mongomock(case: dict[str, Any]) -> None:
    f = parse_filter(case["filter"])
    assert f is not None
    try:
        to_mongo(f)
    except UnsupportedFilterError:
        pytest.skip("the key is local-only: no Mongo form")
    ids = oracle_ids(RECORDS, case["filter"])
    if "mongomock" in case:  # a known, documented difference
        assert case["difference"]
        assert ids == case["mongomock"] != case["expected"]
    else:
        assert ids == case["expected"]


def test_split_plan_selects_expected(case: dict[str, Any]) -> None:
    """Server part through mongomock, then the local part: the same runs as the whole filter."""
    if case.get("local") == "unsupported" or "mongomock" in case:
        pytest.skip("not evaluable locally / known difference")
    plan = split(parse_filter(case["filter"]))
    server_ids = set(select_ids(to_server(plan.server) if plan.server else {}, documents(RECORDS)))
    keep = pa.array([i in server_ids for i in TABLE.column("id").to_pylist()], pa.bool_())
    fetched = TABLE.filter(keep)
    final = fetched if plan.local is None else fetched.filter(mask(fetched, plan.local))
    assert final.column("id").to_pylist() == case["expected"]
    if case["server"] == "unsupported":
        assert plan.notes
