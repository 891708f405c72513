"""The pipelined runs listing: page k + 1 is requested from page k's first bytes.

Real HTTP to the local server throughout; where a server behaviour cannot be produced on
demand (an unreadable prefix, a pageInfo.endCursor that disagrees with the last edge), the
answers are altered on their way from the transport, and the listing must still equal the
one-page-at-a-time listing, request for request.
"""

from __future__ import annotations

import base64
import re
import sys
from typing import Any

import pytest

from tests.client.conftest import ENTITY, FAST_RETRY, simple_runs
from wandb_frames.graphql import listing
from wandb_frames.api import Api
from wandb_frames.errors import GraphQLError, IncompleteResultError, NotFoundError
from wandb_frames.graphql import documents
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.answers import PendingAnswer, RawAnswer
from wandb_frames.testing import Faults, LocalServer

N_RUNS = 257
PER_PAGE = 20


@pytest.fixture(scope="module")
def listing_server() -> Any:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "pipe", simple_runs(N_RUNS))
        yield srv


@pytest.fixture
def api(listing_server: LocalServer) -> Api:
    return Api(api_key=listing_server.api_key, overrides={"base_url": listing_server.url}, progress=False)


QUERY = listing.ListingQuery(entity=ENTITY, project="pipe")


def _sequential(api: Api) -> list[list[str]]:
    return [[n["name"] for n in page] for page in listing.iter_node_pages(api.execute, QUERY, PER_PAGE)]


def _pipelined(api: Api, post: Any = None, counts: list[int] | None = None) -> list[list[str]]:
    pages = listing.iter_pipelined_node_pages(
        api.execute, post or api.execute_pending, api.decode_answer, QUERY, PER_PAGE,
        on_count=None if counts is None else counts.append,
    )
    return [[n["name"] for n in page] for page in pages]


def _runs_page_requests(server: LocalServer) -> list[dict[str, Any]]:
    return [variables for op, variables in server.requests if op == "RunsPage"]


def test_same_pages_and_requests_as_one_page_at_a_time(api: Api, listing_server: LocalServer) -> None:
    expected = _sequential(api)
    listing_server.clear_requests()
    counts: list[int] = []
    got = _pipelined(api, counts=counts)
    assert got == expected
    assert sum(map(len, got)) == N_RUNS and len(got) == -(-N_RUNS // PER_PAGE)
    sent = _runs_page_requests(listing_server)
    assert len(sent) == len(expected)  # no speculative request past the last page
    assert [v["withCount"] for v in sent] == [True] + [False] * (len(sent) - 1)
    assert counts == [N_RUNS]


def test_the_listing_query_puts_page_info_first() -> None:
    """The pipelining depends on it: answers follow the selection order."""
    text = documents.RUNS_PAGE.text
    assert text.index("pageInfo") < text.index("edges")


class _Altered:
    """A pending answer whose first bytes are replaced (the body read is the real one)."""

    def __init__(self, inner: PendingAnswer, head: bytes) -> None:
        self._inner = inner
        self.head = head
        self.operation = inner.operation

    def read(self) -> RawAnswer:
        return self._inner.read()

    def close(self) -> None:
        self._inner.close()


def test_an_unreadable_prefix_falls_back_to_one_page_at_a_time(api: Api, listing_server: LocalServer) -> None:
    expected = _sequential(api)
    listing_server.clear_requests()

    def post(document: Document, variables: Any) -> Any:
        answer = api.execute_pending(document, variables)
        return _Altered(answer, b"{not json")

    assert _pipelined(api, post) == expected
    assert len(_runs_page_requests(listing_server)) == len(expected)


def test_an_end_cursor_that_disagrees_with_the_last_edge_is_not_trusted(
    api: Api, listing_server: LocalServer
) -> None:
    """pageInfo.endCursor says one thing, the last edge another: the edge wins, as in iter_pages."""
    listing_server.clear_requests()
    expected = _sequential(api)
    cursors = [v["after"] for v in _runs_page_requests(listing_server)]
    listing_server.clear_requests()
    doctored = "YXJyYXljb25uZWN0aW9uOjA="  # arrayconnection:0, the start of the listing
    altered = 0

    def post(document: Document, variables: Any) -> Any:
        nonlocal altered
        answer = api.execute_pending(document, variables)
        if variables["after"] is None:  # the first page claims to end at the start
            altered += 1
            head = re.sub(rb'"endCursor":"[^"]*"', b'"endCursor":"' + doctored.encode() + b'"', answer.head)
            return _Altered(answer, head)
        return answer

    assert _pipelined(api, post) == expected
    assert altered == 1
    sent = [v["after"] for v in _runs_page_requests(listing_server)]
    # One speculative request went out after the doctored cursor and was dropped; the fetch
    # thread (two answers ahead) may also have asked for the page after that one before the
    # mismatch was found. Then every page was asked once, after the right cursor.
    chained = base64.b64encode(f"arrayconnection:{PER_PAGE}".encode()).decode()  # page 2's end, wrongly
    assert chained not in cursors
    assert sent.count(doctored) == 1 and sent.count(chained) <= 1
    assert [a for a in sent if a not in (doctored, chained)] == cursors


def test_stopping_early_frees_the_thread_and_connections(api: Api, listing_server: LocalServer) -> None:
    listing_server.clear_requests()
    pages = listing.iter_pipelined_node_pages(
        api.execute, api.execute_pending, api.decode_answer, QUERY, PER_PAGE
    )
    first = next(pages)
    pages.close()
    assert len(first) == PER_PAGE
    assert len(_runs_page_requests(listing_server)) <= 4  # the page taken, at most 2 ahead, 1 in flight
    assert _sequential(api)[0] == [n["name"] for n in first]  # the pool still serves requests


def test_a_graphql_error_on_a_later_page_keeps_the_earlier_pages() -> None:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "pipe", simple_runs(60))
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        calls = 0

        def post(document: Document, variables: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # the second page asks for a project that does not exist
                variables = {**variables, "project": "nope"}
            return api.execute_pending(document, variables)

        pages = listing.iter_pipelined_node_pages(api.execute, post, api.decode_answer, QUERY, 20)
        assert len(next(pages)) == 20
        with pytest.raises(NotFoundError) as info:
            next(pages)
        assert info.value.operation == "RunsPage"


def test_truncated_answers_are_asked_again_and_the_frame_is_whole() -> None:
    faults = Faults(seed=3, truncate=0.4, only_operations=["RunsPage"])
    with LocalServer(entity=ENTITY, faults=faults) as srv:
        srv.add_runs(ENTITY, "pipe", simple_runs(150))
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False,
                  retry=FAST_RETRY)
        df = api.runs(f"{ENTITY}/pipe", per_page=50).to_pandas()  # answers longer than the head
        assert srv.fault_counts.get("truncate", 0) > 0
    assert len(df) == 150 and df["id"].is_unique


def test_a_server_error_mid_listing_is_an_incomplete_result() -> None:
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, "pipe", simple_runs(1100))
        api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, progress=False)
        original = api.execute_raw
        calls = 0

        def failing(document: Document, variables: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise GraphQLError("RunsPage failed: injected", operation="RunsPage")
            return original(document, variables, **kwargs)

        api.execute_raw = failing  # type: ignore[method-assign]
        with pytest.raises(IncompleteResultError) as info:
            api.runs(f"{ENTITY}/pipe", per_page=20, concurrency=1).to_pandas()
    partial = info.value.partial
    assert partial is not None and len(partial) in (500, 1000)  # a prefix: the batches before the failing one
    assert partial["id"].to_pylist() == [f"r{i:05d}" for i in range(len(partial))]


def test_pages_are_handed_over_not_kept(api: Api) -> None:
    """Neither generator of the listing keeps a page across its yield (nor its answer).

    So the caller's last reference frees a page before the next one is parsed: the listing
    holds one page at a time, and the cyclic collector never scans a finished page.
    """
    pages = listing.iter_pipelined_node_pages(api.execute, api.execute_pending, api.decode_answer, QUERY, PER_PAGE)
    runs = api.runs(f"{ENTITY}/pipe", per_page=PER_PAGE)
    for source in (pages, runs._iter_fresh_nodes()):
        seen = 0
        for page in source:
            # the loop variable and getrefcount's argument; for a node: the page and the argument
            # (counted outside ``assert``: pytest's rewriting keeps sub-expressions alive)
            page_refs, node_refs = sys.getrefcount(page), sys.getrefcount(page[0])
            assert (page_refs, node_refs) == (2, 2)
            seen += len(page)
        assert seen == N_RUNS
