"""Relay's backward arguments (``last``, ``before``) on every connection of the local server."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from server_support import ENTITY, PROJECT, Client

from wandb_frames.testing.wire import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, cursor_for, page_bounds

QUERY = """
query Page($entity: String!, $project: String!, $first: Int, $after: String, $last: Int, $before: String) {
  project(entityName: $entity, name: $project) {
    runs(order: "+created_at", first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { name } }
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
    }
  }
}
"""


def _page(gql: Client, **args: Any) -> dict[str, Any]:
    variables = {"entity": ENTITY, "project": PROJECT, **args}
    runs: dict[str, Any] = gql(QUERY, variables)["data"]["project"]["runs"]
    return runs


def _names(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in page["edges"]]


def test_last_is_the_end_of_the_listing(gql: Client) -> None:
    page = _page(gql, last=3)
    assert _names(page) == ["run017", "run018", "run019"]
    assert base64.b64decode(page["edges"][0]["cursor"]).decode() == "arrayconnection:17"
    assert page["pageInfo"]["hasPreviousPage"] is True and page["pageInfo"]["hasNextPage"] is False


def test_before_and_last_walk_backwards_to_the_start(gql: Client) -> None:
    names: list[str] = []
    before = None
    while True:
        page = _page(gql, last=6, before=before)
        names = _names(page) + names
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert names == [f"run{i:03d}" for i in range(20)]


def test_after_and_before_bound_a_window(gql: Client) -> None:
    page = _page(gql, after=cursor_for(4), before=cursor_for(9))
    assert _names(page) == ["run005", "run006", "run007", "run008"]
    assert _names(_page(gql, after=cursor_for(4), before=cursor_for(9), first=2)) == ["run005", "run006"]
    assert _names(_page(gql, after=cursor_for(4), before=cursor_for(9), last=2)) == ["run007", "run008"]


def test_negative_last_is_an_error(gql: Client) -> None:
    body = gql(QUERY, {"entity": ENTITY, "project": PROJECT, "last": -1})
    assert body["errors"] and "last must be >= 0" in body["errors"][0]["message"]


@given(
    total=st.integers(0, 30),
    after=st.one_of(st.none(), st.integers(0, 35)),
    before=st.one_of(st.none(), st.integers(0, 35)),
    first=st.one_of(st.none(), st.integers(0, 40)),
    last=st.one_of(st.none(), st.integers(0, 40)),
)
def test_page_bounds_follow_the_relay_algorithm(
    total: int, after: int | None, before: int | None, first: int | None, last: int | None
) -> None:
    items = list(range(total))
    window = items[(after + 1 if after is not None else 0): (before if before is not None else total)]
    if first is not None:
        window = window[: min(first, MAX_PAGE_SIZE)]
    elif last is None:
        window = window[:DEFAULT_PAGE_SIZE]
    if last is not None:
        window = window[max(0, len(window) - min(last, MAX_PAGE_SIZE)):] if last else []
    start, stop = page_bounds(
        total, first, None if after is None else cursor_for(after), last,
        None if before is None else cursor_for(before),
    )
    assert items[start:stop] == window


@pytest.mark.parametrize("bad", ["nope", base64.b64encode(b"other:3").decode()])
def test_bad_before_cursor_is_an_error(gql: Client, bad: str) -> None:
    body = gql(QUERY, {"entity": ENTITY, "project": PROJECT, "before": bad})
    assert body["errors"]
