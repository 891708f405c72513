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
from wandb_frames.filters.keys import resolve_key
from wandb_frames.filters.to_server import to_mongo
from wandb_frames.testing.mongo import select_ids

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "filters"
RECORDS: list[dict[str, Any]] = json.loads((FIXTURES / "runs.json").read_text())
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in (FIXTURES / "cases.jsonl").read_text().splitlines() if line.strip()
]
TABLE = table_of(RECORDS)


def _keys(spec: Any) -> list[str]:
    """The field keys a filter names (operators skipped, nested ones included)."""
    if isinstance(spec, list):
        return [k for item in spec for k in _keys(item)]
    if not isinstance(spec, dict):
        return []
    return [k for key, value in spec.items() for k in (_keys(value) if key.startswith("$") else [key])]


def _has_mongo_form(case: dict[str, Any]) -> bool:
    """Every key reaches a server field (the alias table's ``server`` is not None)."""
    return all(resolve_key(key).server is not None for key in _keys(case["filter"]))


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


EXPR_CASES = [c for c in CASES if "expr" in c]
MONGO_CASES = [c for c in CASES if _has_mongo_form(c)]
LOCAL_KEY_CASES = [c for c in CASES if not _has_mongo_form(c)]
DIFFERENCE_CASES = [c for c in CASES if "mongomock" in c]
PLAN_CASES = [c for c in CASES if "mongomock" not in c]


@pytest.fixture(params=CASES, ids=_ids(CASES))
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param  # type: ignore[no-any-return]


def test_case_names_unique() -> None:
    assert len({c["name"] for c in CASES}) == len(CASES)


def test_case_groups() -> None:
    """Each selection below is non-empty, so no parametrized test silently vanishes."""
    assert EXPR_CASES and LOCAL_KEY_CASES and DIFFERENCE_CASES
    assert len(MONGO_CASES) + len(LOCAL_KEY_CASES) == len(CASES)


@pytest.mark.parametrize("case", EXPR_CASES, ids=_ids(EXPR_CASES))
def test_expression_front_end_builds_same_tree(case: dict[str, Any]) -> None:
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


@pytest.mark.parametrize("case", LOCAL_KEY_CASES, ids=_ids(LOCAL_KEY_CASES))
def test_local_only_key_has_no_mongo_form(case: dict[str, Any]) -> None:
    f = parse_filter(case["filter"])
    assert f is not None
    with pytest.raises(UnsupportedFilterError):
        to_mongo(f)
    assert case["server"] == "unsupported"


@pytest.mark.parametrize("case", MONGO_CASES, ids=_ids(MONGO_CASES))
def test_mongomock(case: dict[str, Any]) -> None:
    f = parse_filter(case["filter"])
    assert f is not None
    assert isinstance(to_mongo(f), dict)
    ids = oracle_ids(RECORDS, case["filter"])
    if "mongomock" in case:  # a known, documented difference
        assert case["difference"]
        assert ids == case["mongomock"] != case["expected"]
    else:
        assert ids == case["expected"]


def _plan_ids(case: dict[str, Any]) -> tuple[list[str], Any]:
    """The split plan run end to end: server part through mongomock, then the local part."""
    plan = split(parse_filter(case["filter"]))
    server_ids = set(select_ids(to_server(plan.server) if plan.server else {}, documents(RECORDS)))
    keep = pa.array([i in server_ids for i in TABLE.column("id").to_pylist()], pa.bool_())
    fetched = TABLE.filter(keep)
    final = fetched if plan.local is None else fetched.filter(mask(fetched, plan.local))
    return [str(i) for i in final.column("id").to_pylist()], plan


@pytest.mark.parametrize("case", PLAN_CASES, ids=_ids(PLAN_CASES))
def test_split_plan_selects_expected(case: dict[str, Any]) -> None:
    """Server part through mongomock, then the local part: the same runs as the whole filter."""
    ids, plan = _plan_ids(case)
    assert ids == case["expected"]
    if case["server"] == "unsupported":
        assert plan.notes
    if case.get("local") == "unsupported":  # e.g. an array operand: the server must take it whole
        assert plan.server is not None and plan.local is None


@pytest.mark.parametrize("case", DIFFERENCE_CASES, ids=_ids(DIFFERENCE_CASES))
def test_split_plan_carries_known_difference(case: dict[str, Any]) -> None:
    """A filter the server takes whole returns the server's answer: with mongomock standing in
    for the server, the plan yields mongomock's documented (different) answer."""
    ids, plan = _plan_ids(case)
    assert plan.server is not None and plan.local is None
    assert ids == case["mongomock"] != case["expected"]
