"""Arrow's reading of ``RunsPage`` answers: the same data as orjson's, or no answer at all.

The property: for any answer a GraphQL server may send to our selection, ``page_data`` is
orjson's ``data`` (JSON strings as memoryviews of the same UTF-8 text); for anything else,
``parse_runs_page`` returns ``None`` so that orjson decides, as it always did. Then over
real HTTP: the table listing reads its pages through Arrow and gives the same runs.
"""

from __future__ import annotations

import threading

import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests
from graphql import FieldNode
from hypothesis import given
from hypothesis import strategies as st

from tests.client.conftest import ENTITY
from wandb_frames.graphql import listing
from wandb_frames.api import Api
from wandb_frames.errors import ProtocolError
from wandb_frames.graphql import arrow_page, documents
from wandb_frames.graphql.arrow_page import (
    JSON_STRING_FIELDS,
    ArrowNodes,
    RUN_FIELD_TYPES,
    page_data,
    page_nodes,
    parse_runs_page,
    runs_page_schema,
)
from wandb_frames.graphql.records import decode_nodes
from wandb_frames.tabular import TableAssembler, runs_to_table
from wandb_frames.tabular.arrow_runs import run_columns_from_arrow
from wandb_frames.tabular.columns import column_to_arrow
from wandb_frames.tabular.decode import decode_run_columns
from wandb_frames.tabular.decode import loads_wandb_json
from wandb_frames.testing import LocalServer

ALL = {"withConfig": True, "withSummary": True, "withSystem": True, "withCount": True, "withMetadata": False}


def _field_names(selection_set: Any) -> list[str]:
    return [s.name.value for s in selection_set.selections if isinstance(s, FieldNode)]


def test_run_field_types_follow_the_run_fields_fragment() -> None:
    fragment = documents.FRAGMENTS["RunFields"]
    assert _field_names(fragment.selection_set) == [name for name, _ in RUN_FIELD_TYPES]


def test_json_string_fields_follow_the_runs_page_selection() -> None:
    """Each JSON-string field is selected in RunsPage behind the flag the schema reads."""
    text = documents.RUNS_PAGE.text
    for name, flag in JSON_STRING_FIELDS:
        assert any(
            line.strip().startswith(name) and f"@include(if: ${flag})" in line for line in text.splitlines()
        ), name


def _expected(body: bytes) -> dict[str, Any]:
    """orjson's ``data``, with computeSeconds as float (Arrow's double; the decoders take float())."""
    data: dict[str, Any] = orjson.loads(body)["data"]
    for edge in data["project"]["runs"]["edges"]:
        seconds = edge["node"].get("computeSeconds")
        if seconds is not None:
            edge["node"]["computeSeconds"] = float(seconds)
    return data


def _as_text(data: dict[str, Any]) -> dict[str, Any]:
    for edge in data["project"]["runs"]["edges"]:
        node = edge["node"]
        for name, _ in JSON_STRING_FIELDS:
            if isinstance(node.get(name), memoryview):
                node[name] = str(node[name], "utf-8")
    return data


texts = st.text(st.characters(codec="utf-8"), max_size=12)
json_strings = st.one_of(
    st.none(),
    texts,  # a JSONString needs not hold valid JSON for the outer parse
    st.dictionaries(texts, st.one_of(st.floats(allow_nan=False), st.integers(), texts, st.booleans()), max_size=4).map(
        lambda d: json.dumps(d, ensure_ascii=False)
    ),
    st.just('{"loss": NaN, "x": -Infinity}'),
)
nodes = st.fixed_dictionaries(
    {
        "name": texts,
        "displayName": st.none() | texts,
        "state": st.none() | texts,
        "createdAt": st.none() | texts,
        "heartbeatAt": st.none() | texts,
        "computeSeconds": st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False),
        "tags": st.none() | st.lists(st.none() | texts, max_size=3),
        "group": st.none() | texts,
        "jobType": st.none() | texts,
        "sweepName": st.none() | texts,
        "host": st.none() | texts,
        "notes": st.none() | texts,
        "commit": st.none() | texts,
        "user": st.none() | st.fixed_dictionaries({"username": st.none() | texts}),
        "config": json_strings,
        "summaryMetrics": json_strings,
        "systemMetrics": json_strings,
    }
)


def _answer(node_list: list[dict[str, Any]], *, count: int | None, info: Any) -> dict[str, Any]:
    project: dict[str, Any] = {} if count is None else {"runCount": count}
    edges = [{"cursor": f"c{i}", "node": node} for i, node in enumerate(node_list)]
    project["runs"] = {"pageInfo": info, "edges": edges}
    return {"data": {"project": project}}


@given(
    node_list=st.lists(nodes, max_size=5),
    count=st.none() | st.integers(0, 2**40),
    info=st.none() | st.fixed_dictionaries({"endCursor": st.none() | texts, "hasNextPage": st.booleans()}),
    ascii_only=st.booleans(),
)
def test_page_data_is_orjsons_data(
    node_list: list[dict[str, Any]], count: int | None, info: Any, ascii_only: bool
) -> None:
    answer = _answer(node_list, count=count, info=info)
    # Both spellings of the same answer: raw UTF-8, and every non-ASCII character escaped.
    body = json.dumps(answer, ensure_ascii=True).encode() if ascii_only else orjson.dumps(answer)
    parsed = parse_runs_page(body, runs_page_schema({**ALL, "withCount": count is not None}))
    assert parsed is not None
    assert _as_text(page_data(parsed)) == _expected(body)


def test_without_heavy_fields_the_nodes_have_none() -> None:
    node = {name: None for name, _ in RUN_FIELD_TYPES} | {"name": "a"}
    body = orjson.dumps(_answer([node], count=None, info={"endCursor": "c0", "hasNextPage": False}))
    variables = {**ALL, "withCount": False, "withConfig": False, "withSummary": False, "withSystem": False}
    parsed = parse_runs_page(body, runs_page_schema(variables))
    assert parsed is not None
    assert page_data(parsed) == _expected(body)
    # and the same body does not fit a selection with config: null stands for nothing missing
    heavy = orjson.dumps(_answer([{**node, "config": "{}"}], count=None, info=None))
    assert parse_runs_page(heavy, runs_page_schema(variables)) is None


def test_files_selection_is_left_to_orjson() -> None:
    assert runs_page_schema({**ALL, "withMetadata": True}) is None


GOOD_NODE: dict[str, Any] = {name: None for name, _ in RUN_FIELD_TYPES} | {
    "name": "a", "computeSeconds": 1.5, "config": "{}", "summaryMetrics": "{}", "systemMetrics": "{}"
}


def _body(**changes: Any) -> bytes:
    node = {**GOOD_NODE, **changes}
    return orjson.dumps(_answer([node], count=1, info={"endCursor": "c0", "hasNextPage": False}))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(_body()[:-5], id="truncated"),
        pytest.param(_body() + b"\n" + _body(), id="two-objects"),
        pytest.param(b'{"errors":[{"message":"boom"}],"data":null}', id="errors"),
        pytest.param(b'{"data":null}', id="null-data"),
        pytest.param(b'{"data":{"project":null}}', id="null-project"),
        pytest.param(b'{"data":{"project":{"runCount":1,"runs":null}}}', id="null-runs"),
        pytest.param(b'{"data":{"project":{"runCount":1,"runs":{"pageInfo":null,"edges":[null]}}}}', id="null-edge"),
        pytest.param(
            b'{"data":{"project":{"runCount":1,"runs":{"pageInfo":null,"edges":[{"cursor":"c","node":null}]}}}}',
            id="null-node",
        ),
        pytest.param(_body(extra=1), id="unselected-field"),
        pytest.param(_body(name=12), id="number-for-string"),
        pytest.param(_body(computeSeconds="12"), id="string-for-number"),
        pytest.param(_body(tags="a"), id="string-for-list"),
        pytest.param(_body(user="bob"), id="string-for-object"),
        pytest.param(_body().replace(b'"computeSeconds":1.5', b'"computeSeconds":NaN'), id="bare-nan"),
        pytest.param(_body().replace(b'"computeSeconds":1.5', b'"computeSeconds":-Infinity'), id="bare-infinity"),
        pytest.param(_body().replace(b'"name":"a"', b'"name":"a","name":"b"'), id="repeated-key"),
        pytest.param(_body().replace(b'"name":"a"', b'"name":"a\\ud800"'), id="lone-surrogate"),
        pytest.param(_body(name="\xe9").replace("\xe9".encode(), b"\xe9"), id="not-utf8"),
    ],
)
def test_anything_else_is_left_to_orjson(body: bytes) -> None:
    assert parse_runs_page(body, runs_page_schema(ALL)) is None


def test_the_good_body_is_read() -> None:  # each rejection above differs from it by one change
    parsed = parse_runs_page(_body(), runs_page_schema(ALL))
    assert parsed is not None
    assert _as_text(page_data(parsed)) == _expected(_body())


def test_memoryview_texts_parse_like_strings() -> None:
    for text in ['{"a": 1}', '{"loss": NaN, "x": Infinity}', '{"s": "tab\there"}', '{"é": "损失"}']:
        assert repr(loads_wandb_json(memoryview(text.encode()))) == repr(loads_wandb_json(text))
    with pytest.raises(ProtocolError):
        loads_wandb_json(memoryview(b'{"a": "\xff'))
    with pytest.raises(ProtocolError):
        loads_wandb_json(memoryview(b"{nope"))


# ------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def odd_server() -> Any:
    """Runs whose JSON strings hold what strict parsers refuse (NaN) and non-ASCII keys."""
    runs = [
        {
            "id": f"x{i:03d}",
            "config": {"lr": 0.1 * i, "name": "réseau", "nested": {"损失": i}},
            "summary": {"loss": math.nan if i % 3 == 0 else 1.0 / (i + 1), "best": math.inf if i == 4 else i},
            "system_metrics": {"cpu": float(i)},
            "tags": ["a", "b"] if i % 2 else [],
        }
        for i in range(23)
    ]
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "odd", runs)
        yield srv


@pytest.fixture
def every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let Arrow read answers of any size (these pages are far below ``MIN_BYTES``)."""
    monkeypatch.setattr(arrow_page, "MIN_BYTES", 0)


def _pages(api: Api, *, arrow: bool) -> list[list[dict[str, Any]]]:
    query = listing.ListingQuery(entity=ENTITY, project="odd")
    return list(
        listing.iter_pipelined_node_pages(
            api.execute, api.execute_pending, api.decode_answer, query, 5, arrow=arrow
        )
    )


def test_the_listing_reads_pages_through_arrow_with_the_same_runs(odd_server: LocalServer, every_answer: None) -> None:
    api = Api(api_key=odd_server.api_key, overrides={"base_url": odd_server.url}, progress=False)
    with_arrow, with_orjson = _pages(api, arrow=True), _pages(api, arrow=False)
    assert [len(p) for p in with_arrow] == [5, 5, 5, 5, 3]
    assert all(isinstance(page, ArrowNodes) for page in with_arrow)
    light = ["name", "config", "summaryMetrics", "systemMetrics"]
    assert all(list(node) == light and type(node["config"]) is memoryview for page in with_arrow for node in page)
    assert all(type(node["config"]) is str for page in with_orjson for node in page)
    assert [[node["name"] for node in page] for page in with_arrow] == [[n["name"] for n in p] for p in with_orjson]
    full = [page.full() for page in with_arrow if isinstance(page, ArrowNodes)]
    decoded = [repr(decode_nodes(api, page, ENTITY, "odd")) for page in full]
    assert decoded == [repr(decode_nodes(api, page, ENTITY, "odd")) for page in with_orjson]
    # and each page assembles into the same table, whichever way its run fields are read
    for sep in (".", "_"):  # "_" is in run column names (job_type): the dicts are rebuilt
        tables = []
        for pages in (with_arrow, with_orjson):
            assembler = TableAssembler(sep=sep)
            for page in pages:
                assembler.add_nodes(page, entity=ENTITY, project="odd")
            tables.append(assembler.finish())
        assert tables[0].schema.equals(tables[1].schema, check_metadata=True)
        assert repr(tables[0].to_pylist()) == repr(tables[1].to_pylist())


def test_the_table_equals_the_one_built_from_records(odd_server: LocalServer, every_answer: None) -> None:
    api = Api(api_key=odd_server.api_key, overrides={"base_url": odd_server.url}, progress=False)
    table = api.runs(f"{ENTITY}/odd", per_page=4).to_arrow()
    records = [run for page in api.runs(f"{ENTITY}/odd", per_page=4).iter_records() for run in page]
    expected = runs_to_table(records)  # decoded from orjson's nodes (iter_records reads no Arrow)
    assert table.num_rows == 23
    assert table.schema.equals(expected.schema, check_metadata=True)
    assert repr(table.to_pylist()) == repr(expected.to_pylist())  # repr: NaN equals NaN


def test_text_views_of_a_sliced_array() -> None:
    import pyarrow as pa

    from wandb_frames.graphql.arrow_page import _text_views

    array = pa.array(["zero", None, "", "trois", "四"])[1:]
    assert [None if v is None else str(v, "utf-8") for v in _text_views(array)] == [None, "", "trois", "四"]
    assert _text_views(pa.array([None, None], pa.string())) == [None, None]


def test_small_answers_are_left_to_orjson(odd_server: LocalServer) -> None:
    api = Api(api_key=odd_server.api_key, overrides={"base_url": odd_server.url}, progress=False)
    assert all(type(node["config"]) is str for page in _pages(api, arrow=True) for node in page)


def test_duplicates_across_arrow_pages_are_dropped(odd_server: LocalServer, every_answer: None) -> None:
    """As test_runs_http's test, on Arrow pages: the kept nodes keep their Arrow rows."""
    odd_server.add_runs(ENTITY, "shift", [{"id": f"s{i:03d}", "config": {"i": i}} for i in range(30)])
    session = requests.Session()
    inserted: list[int] = []
    once = threading.Lock()  # the ID snapshot and the first page are answered side by side

    def insert_after_first_page(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with once:
            if not inserted and b'"runs"' in response.content:
                odd_server.add_runs(ENTITY, "shift", [{"id": f"new{i}", "config": {"i": -i},
                                                       "created_at": datetime(2030, 1, 1, tzinfo=UTC)} for i in range(4)])
                inserted.append(4)

    session.hooks["response"].append(insert_after_first_page)
    api = Api(api_key=odd_server.api_key, overrides={"base_url": odd_server.url}, progress=False, session=session)
    table = api.runs(f"{ENTITY}/shift", order="-created_at", per_page=7).to_arrow()
    assert inserted == [4]
    ids = table["id"].to_pylist()
    old = {f"s{i:03d}" for i in range(30)}
    assert len(ids) == len(set(ids)) and old <= set(ids) <= old | {f"new{i}" for i in range(4)}
    assert table["config.i"].to_pylist() == [int(i[1:]) if i.startswith("s") else -int(i[3:]) for i in ids]


# Timestamps as W&B spells them, other ISO spellings, and text that is no timestamp.
timestamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.just("2026-02-30T00:00:00Z"),
    texts,
)
timed_nodes = nodes.flatmap(
    lambda node: st.fixed_dictionaries(
        {"createdAt": st.none() | timestamps, "heartbeatAt": st.none() | timestamps}
    ).map(lambda times: {**node, **times})
)


def _converted_or_error(make: Any) -> Any:
    try:
        return repr([(name, array.type, array.to_pylist(), kind) for name, (array, kind, _) in make().items()])
    except ProtocolError as exc:
        return type(exc)


@given(st.lists(timed_nodes, min_size=1, max_size=5))
def test_run_columns_from_arrow_are_the_python_paths(node_list: list[dict[str, Any]]) -> None:
    body = orjson.dumps(_answer(node_list, count=None, info=None))
    parsed = parse_runs_page(body, runs_page_schema({**ALL, "withCount": False}))
    assert parsed is not None
    python_nodes = _expected(body)["project"]["runs"]["edges"]

    def python() -> dict[str, Any]:
        columns = decode_run_columns([e["node"] for e in python_nodes], entity="e", project="p")
        assert columns is not None
        return {name: column_to_arrow(values) for name, values in columns.items()}

    def arrow() -> dict[str, Any]:
        return run_columns_from_arrow(page_nodes(parsed), entity="e", project="p")

    assert _converted_or_error(arrow) == _converted_or_error(python)
