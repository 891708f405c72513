"""peek_page_info: what it reads from an answer's first bytes equals the fully parsed answer."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.graphql.peek import PeekedPageInfo, peek_page_info

PATH = ("data", "project", "runs")

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
_cursor = st.one_of(st.none(), st.text(max_size=12))


def _dump(value: Any, indent: int | None) -> bytes:
    return json.dumps(value, indent=indent, ensure_ascii=bool(indent and indent % 2)).encode()


def _expected(value: Any) -> PeekedPageInfo | None:
    try:
        info = value["data"]["project"]["runs"]["pageInfo"]
        cursor, has_next = info.get("endCursor"), info.get("hasNextPage")
    except (KeyError, TypeError, AttributeError):
        return None
    if type(has_next) is not bool or not (cursor is None or isinstance(cursor, str)):
        return None
    return PeekedPageInfo(cursor, has_next)


@given(
    cursor=_cursor, has_next=st.booleans(), before=st.dictionaries(st.sampled_from(["runCount", "n", "x"]), _json_scalars),
    edges=st.lists(_json, max_size=3), indent=st.one_of(st.none(), st.integers(0, 3)),
)
def test_page_info_first_is_read_exactly(
    cursor: str | None, has_next: bool, before: dict[str, Any], edges: list[Any], indent: int | None
) -> None:
    answer = {"data": {"project": {**before, "runs": {
        "pageInfo": {"endCursor": cursor, "hasNextPage": has_next}, "edges": edges}}}}
    assert peek_page_info(_dump(answer, indent), PATH) == PeekedPageInfo(cursor, has_next)


@given(value=_json, indent=st.one_of(st.none(), st.integers(0, 2)))
def test_any_json_gives_none_or_the_parsed_value(value: Any, indent: int | None) -> None:
    peeked = peek_page_info(_dump(value, indent), PATH)
    assert peeked is None or peeked == _expected(value)


@given(
    prefix=st.sampled_from([b'{"data":{"project":{"runs":{"pageInfo":{"endCursor":"c","hasNextPage":true}',
                            b'{"data":{"project":', b"{", b""]),
    tail=st.binary(max_size=40),
)
def test_arbitrary_bytes_never_raise(prefix: bytes, tail: bytes) -> None:
    peeked = peek_page_info(prefix + tail, PATH)
    assert peeked is None or peeked == PeekedPageInfo("c", True)


def test_shapes_it_declines() -> None:
    errors_first = b'{"errors":[{"message":"boom"}],"data":{"project":null}}'
    edges_first = b'{"data":{"project":{"runs":{"edges":[],"pageInfo":{"endCursor":null,"hasNextPage":false}}}}}'
    null_project = b'{"data":{"project":null}}'
    repeated_key = b'{"data":{"project":{"runs":{"pageInfo":{"hasNextPage":true,"hasNextPage":false}}}}}'
    for body in (errors_first, edges_first, null_project, repeated_key):
        assert peek_page_info(body, PATH) is None


def test_escapes_in_cursors_are_decoded() -> None:
    body = b'{"data":{"project":{"runCount":3,"runs":{"pageInfo":{"endCursor":"a\\"b\\u00e9","hasNextPage":true}}}}}'
    assert peek_page_info(body, PATH) == PeekedPageInfo('a"b\u00e9', True)
