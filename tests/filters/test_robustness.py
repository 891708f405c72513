"""Property: every public entry point that takes ``filters`` answers or raises a project error.

Arbitrary Python values (``filters.hostile``) go through the parser, both compilers,
``split``, ``mask``, ``filters.apply`` (table and frame), ``df.wb.where``, the parquet
reader and ``api.runs`` over HTTP against the local server. Each must return a correct
value or raise an error of :mod:`wandb_frames.errors`, never another exception type; an
input the parser refuses is refused by every entry point alike, and ``api.runs`` sends no
request for it. Outcomes are tallied per entry point (``FILTER_FUZZ_TALLY=path`` writes
them as JSON; ``--hypothesis-show-statistics`` shows them as events).
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import wandb_frames.filters.accessor  # noqa: F401 - registers df.wb
from filters.hostile import deep_filters, expressions, hostile_filters, hostile_values, near_valid_filters
from filters.support import oracle_ids, table_of
from wandb_frames import Api
from wandb_frames.errors import FilterError, WandbFramesError
from wandb_frames.export import read_parquet, write_parquet
from wandb_frames.filters import (
    apply,
    mask,
    order_to_server,
    parse_filter,
    parse_order,
    split,
    to_arrow_expression,
    to_server,
    to_server_json,
)
from wandb_frames.tabular import table_to_pandas
from wandb_frames.testing import LocalServer

RECORDS: list[dict[str, Any]] = [
    {"id": "a", "created_at": "2024-01-01", "state": "finished", "tags": ["x", "y"],
     "config": {"lr": 0.1, "k": None, "model": {"layers": 2}, "mixed": 1},
     "summary": {"loss": 0.5, "img": {"_type": "image-file", "path": "a.png"}}},
    {"id": "b", "created_at": "2024-01-02", "state": "crashed", "tags": [],
     "config": {"lr": None, "opt": "adam", "mixed": "s"}, "summary": {"loss": float("nan")}},
    {"id": "c", "created_at": "2024-01-03", "config": {"seed": 2**62}, "summary": {}},
]
TABLE = table_of(RECORDS)
FRAME = table_to_pandas(TABLE)
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _write_tally() -> Iterator[None]:
    yield
    target = os.environ.get("FILTER_FUZZ_TALLY")
    if target:
        previous = json.loads(Path(target).read_text()) if Path(target).exists() else {}
        for name, count in TALLY.items():
            previous[name] = previous.get(name, 0) + count
        Path(target).write_text(json.dumps(previous, indent=1, sort_keys=True))


def outcome(entry: str, call: Callable[[], Any]) -> tuple[str, Any]:
    """Run one entry point: ("ok", result) or (error class name, error); anything else fails the test."""
    result: Any
    try:
        result = call()
        name = "ok"
    except WandbFramesError as exc:
        name, result = type(exc).__name__, exc
        if isinstance(exc, FilterError):
            assert isinstance(exc.path, str)
            assert str(exc)  # the message (with its pointer) can be built
    TALLY[f"{entry}: {name}"] += 1
    event(f"{entry}: {name}")
    return name, result


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(TABLE, tmp_path_factory.mktemp("fuzz") / "runs.parquet")


def _check_local(spec: Any, parquet: Path) -> None:
    parsed_name, parsed = outcome("parse_filter", lambda: parse_filter(spec))
    entries: dict[str, Callable[[], Any]] = {
        "to_server": lambda: to_server(spec),
        "to_server_json": lambda: to_server_json(spec),
        "split": lambda: split(parse_filter(spec)),
        "mask": lambda: mask(TABLE, spec),
        "to_arrow_expression": lambda: to_arrow_expression(spec, TABLE.schema),
        "apply(table)": lambda: apply(TABLE, spec),
        "apply(frame)": lambda: apply(FRAME, spec),
        "df.wb.where": lambda: FRAME.wb.where(spec),
        "read_parquet": lambda: read_parquet(parquet, spec),
    }
    results = {entry: outcome(entry, call) for entry, call in entries.items()}
    if parsed_name != "ok":  # refused once: refused everywhere, with the same error
        for entry, (name, _) in results.items():
            assert name == parsed_name, (entry, name, parsed_name)
        return
    name, text = results["to_server_json"]
    if name == "ok":
        json.loads(text)
        text.encode("utf-8")  # no lone surrogate reaches the wire
    name, selected = results["mask"]
    if name == "ok":
        assert len(selected) == TABLE.num_rows and selected.null_count == 0
        ids = TABLE.filter(selected).column("id").to_pylist()
        for entry in ("apply(table)", "read_parquet"):
            other_name, other = results[entry]
            if other_name == "ok":
                assert other.column("id").to_pylist() == ids, entry
        for entry in ("apply(frame)", "df.wb.where"):
            other_name, other = results[entry]
            if other_name == "UnsupportedFilterError" and other.backend == "pandas":
                # NaN is missing in a pandas frame: a null test on a float column holding NaN is
                # declined there (the Arrow table above answered it).
                assert other.operator in ("$eq", "$ne", "$in", "$nin", "$exists"), entry
                continue
            assert other_name == "ok", entry
            assert list(other["id"]) == ids, entry


@settings(max_examples=min(1000, settings().max_examples))
@given(hostile_filters)
def test_every_local_entry_point_answers_or_raises_a_project_error(parquet_file: Path, spec: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_local(spec, parquet_file)


@settings(max_examples=150)
@given(deep_filters())
def test_deep_filters(parquet_file: Path, spec: Any) -> None:
    _check_local(spec, parquet_file)


@settings(max_examples=150)
@given(expressions())
def test_expressions(parquet_file: Path, spec: str) -> None:
    _check_local(spec, parquet_file)


# -- api.runs over HTTP --------------------------------------------------------------------
_projects = itertools.count()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalServer, Api]]:
    with LocalServer(entity="fuzz") as server:
        server.add_runs("fuzz", "p", RECORDS)  # type: ignore[arg-type]
        yield server, Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(near_valid_filters(), hostile_filters))
def test_api_runs_over_http(served: tuple[LocalServer, Api], spec: Any) -> None:
    """An invalid filter raises in ``api.runs`` before any request; a valid one lists the runs
    (or raises a project error, e.g. a filter that runs on neither backend alone)."""
    server, api = served
    before = len(server.requests)
    name, runs = outcome("api.runs", lambda: api.runs("fuzz/p", filters=spec, per_page=2))
    valid = outcome("parse_filter", lambda: parse_filter(spec))[0] == "ok"
    if name != "ok":
        assert len(server.requests) == before, "a request was sent for a filter refused by api.runs"
        assert isinstance(runs, FilterError)
        if not valid:
            return
        assert runs.__class__.__name__ == "UnsupportedFilterError"
        return
    assert valid, "api.runs accepted a filter the parser refuses"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        listed_name, table = outcome("api.runs.to_arrow", runs.to_arrow)
    if listed_name == "ok":
        ids = table.column("id").to_pylist() if table.num_rows else []
        assert len(ids) == len(set(ids))
        assert set(ids) <= {"a", "b", "c"}


def test_api_runs_refuses_a_bad_order_before_any_request(served: tuple[LocalServer, Api]) -> None:
    server, api = served
    before = len(server.requests)
    for order in (["-created_at"], "-\ud800", "-nope", {"a": 1}):
        with pytest.raises(FilterError):
            api.runs("fuzz/p", order=order)  # type: ignore[arg-type]
    assert len(server.requests) == before


def test_examples_from_the_issue() -> None:
    """The inputs issue 17 reported, one by one: each is a FilterError, nothing else."""
    deep_and: Any = {"state": "x"}
    for _ in range(1000):
        deep_and = {"$and": [deep_and]}
    cases = [
        deep_and,
        "not " * 1000 + "state == 'x'",
        {"created_at": {"$gt": "9999-12-31T23:00:00-05:00"}},
        {"created_at": {"$lt": "0001-01-01T00:00:00+05:00"}},
        {"created_at": {"$gt": pd.NaT}},
        {"state": "a\ud800"},
        {"config.seed": {"$gt": 10**400}},
    ]
    for spec in cases:
        for call in (parse_filter, to_server, lambda s: mask(TABLE, s), FRAME.wb.where):
            with pytest.raises(FilterError):
                call(spec)


def test_absent_column_in_a_frame_is_missing_everywhere() -> None:
    df = pd.DataFrame({"id": ["a", "b"], "state": ["x", "y"]})
    assert df.wb.where({"config.nope": 1}).empty
    assert list(df.wb.where({"config.nope": {"$exists": False}})["id"]) == ["a", "b"]
    assert list(df.wb.where({"config.nope": {"$ne": 1}})["id"]) == ["a", "b"]
    assert list(apply(df, {"config.nope": {"$nin": [1]}})["id"]) == ["a", "b"]
    assert list(apply(df, {"config.nope": None})["id"]) == ["a", "b"]
    assert apply(df, {"config.nope": {"$gt": 1}}).empty
    assert list(apply(df, {"config.nope": {"$not": {"$gt": 1}}})["id"]) == ["a", "b"]


def test_dates_beyond_nanoseconds_compare_with_a_nanosecond_column() -> None:
    df = pd.DataFrame({"id": ["a"], "created_at": pd.to_datetime(["2024-01-01"], utc=True)})
    assert list(df.wb.where({"created_at": {"$lt": "9999-01-01"}})["id"]) == ["a"]
    assert df.wb.where({"created_at": {"$gt": "9999-01-01"}}).empty
    assert df.wb.where({"created_at": {"$in": ["0001-01-02", "9999-01-01"]}}).empty
    assert list(df.wb.where({"created_at": {"$gt": "0001-01-02"}})["id"]) == ["a"]


def test_unreadable_frame_column_is_a_schema_error() -> None:
    from wandb_frames.errors import SchemaError

    df = pd.DataFrame({"id": ["a", "b"], "config.x": [1, "s"]})
    with pytest.raises(SchemaError) as info:
        df.wb.where({"config.x": 1})
    assert info.value.column == "config.x"
    categorical = pd.DataFrame({"id": ["a", "b"], "state": pd.Categorical(["x", "y"])})
    assert list(categorical.wb.where({"state": {"$regex": "x"}})["id"]) == ["a"]
    assert list(categorical.wb.where({"state": {"$in": ["y"]}})["id"]) == ["b"]
    assert np.array_equal(mask(pa.table({"n": [1]}), None).to_numpy(zero_copy_only=False), [True])


@settings(max_examples=min(300, settings().max_examples))
@given(st.one_of(
    hostile_values,
    st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "-", "+", "."]))),
    st.sampled_from(["-created_at", "+config.lr", "summary.loss", "-summary.img.path", " -state ", "notes"]),
))
def test_order_answers_or_raises_a_project_error(spec: Any) -> None:
    name, parsed = outcome("parse_order", lambda: parse_order(spec))
    sorted_name, _ = outcome("df.wb.sort", lambda: FRAME.wb.sort(spec))
    assert sorted_name == name or (name == "ok" and sorted_name != "ok")
    if name == "ok":
        outcome("order_to_server", lambda: order_to_server(parsed))


ABSENT_KEY_FILTERS: list[dict[str, Any]] = [
    {"config.nope": 1}, {"config.nope": None}, {"config.nope": {"$eq": "a"}}, {"config.nope": {"$ne": 1}},
    {"config.nope": {"$ne": None}}, {"config.nope": {"$gt": 1}}, {"config.nope": {"$gte": "a"}},
    {"config.nope": {"$lt": 1}}, {"config.nope": {"$lte": 1}}, {"config.nope": {"$in": [1, None]}},
    {"config.nope": {"$in": [1]}}, {"config.nope": {"$nin": [1]}}, {"config.nope": {"$nin": [None]}},
    {"config.nope": {"$exists": True}}, {"config.nope": {"$exists": False}}, {"config.nope": {"$regex": ""}},
    {"config.nope": {"$all": ["a"]}}, {"config.nope": {"$all": [None]}}, {"config.nope": {"$size": 0}},
    {"config.nope": {"$not": {"$gt": 1}}}, {"$not": {"config.nope": 1}}, {"$nor": [{"config.nope": 1}]},
    {"summary.nope.deep": {"$exists": False}}, {"summary.nope.deep": {"$ne": 2}},
]


@pytest.mark.parametrize("spec", ABSENT_KEY_FILTERS, ids=[json.dumps(s) for s in ABSENT_KEY_FILTERS])
def test_keys_no_column_reaches_behave_as_on_the_server(spec: dict[str, Any]) -> None:
    """Every operator on a key the frame has no column for: the local server's engine
    (mongomock over the W&B documents) is the oracle, for tables and frames alike."""
    expected = oracle_ids(RECORDS, spec)
    assert [str(i) for i in apply(TABLE, spec).column("id").to_pylist()] == expected
    assert list(FRAME.wb.where(spec)["id"]) == expected
    bare = pd.DataFrame({"id": ["a", "b", "c"]})
    assert list(bare.wb.where(spec)["id"]) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"config.seed": 0.0}, []),
        ({"config.seed": 1.0}, ["b"]),
        ({"config.seed": {"$gt": 1.5}}, ["a", "c"]),
        ({"config.seed": {"$gte": 1.5}}, ["a", "c"]),
        ({"config.seed": {"$lt": 1.5}}, ["b"]),
        ({"config.seed": {"$lte": 2.0}}, ["b", "c"]),
        ({"config.seed": {"$lt": 1e300}}, ["a", "b", "c"]),
        ({"config.seed": {"$gt": float("inf")}}, []),
        ({"config.seed": {"$gt": -1e300}}, ["a", "b", "c"]),
        ({"config.seed": {"$ne": 1.5}}, ["a", "b", "c", "d"]),
        ({"config.seed": {"$in": [1.0, 2**62]}}, ["a", "b"]),
        ({"config.f": 2**62}, ["a"]),
        ({"config.f": {"$gt": 2**62 + 1}}, []),
    ],
)
def test_integers_beyond_a_double_compare_exactly_with_floats(spec: dict[str, Any], expected: list[str]) -> None:
    """Arrow refuses int64 beyond 2**53 against a double; the comparison is rewritten, not refused."""
    t = pa.table({"id": list("abcd"), "config.seed": pa.array([2**62, 1, 2, None]), "config.f": [2.0**62, 1.0, 2.5, None]})
    assert apply(t, spec).column("id").to_pylist() == expected
    expression = to_arrow_expression(spec, t.schema)
    assert expression is not None
    assert t.filter(expression).column("id").to_pylist() == expected
