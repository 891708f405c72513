"""Runs too heavy for one answer: batches split, and later ones sized by what a run weighs.

The server gives up on a ``/graphql`` answer larger than ``Network(max_answer_bytes=...)``
(HTTP 502, as W&B's gateway does for a page of runs whose summaries hold histograms). Every
listing path must still return every run once, in order; only a single run the server
cannot send fails, loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from tests.client.conftest import ENTITY, FAST_RETRY, START
from wandb_frames.api import Api
from wandb_frames.errors import HTTPStatusError
from wandb_frames.graphql import batch_stream
from wandb_frames.graphql.documents import RUNS_PAGE
from wandb_frames.testing import LocalServer, Network

PROJECT = "heavy"
RUNS = 40
HIST = 400  # floats per run's histogram
RUN_BYTES = 7_200  # one such run's share of a RunsPage answer (measured: 1 run 7.3 KB, 6 runs 43 KB)


def _heavy_runs(n: int, *, hist: int = HIST, prefix: str = "h", first_minute: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i:04d}", "state": "finished", "created_at": START + timedelta(minutes=first_minute + i),
            "config": {"lr": 0.001 * (i + 1)},
            "summary": {"loss": 1.0 / (i + 1),
                        "weights": {"_type": "histogram", "values": [i + k / 7 for k in range(hist)]}},
        }
        for i in range(n)
    ]


def _api(server: LocalServer, **kwargs: Any) -> Api:
    return Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, retry=FAST_RETRY,
               **kwargs)


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    """The table from a server without any answer limit."""
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, _heavy_runs(RUNS))
        return _api(srv).runs(f"{ENTITY}/{PROJECT}").to_arrow()


@pytest.fixture
def limited() -> Iterator[LocalServer]:
    """Answers over ~6 runs' worth are refused with HTTP 502."""
    with LocalServer(entity=ENTITY, network=Network(max_answer_bytes=6 * RUN_BYTES + 1000)) as srv:
        srv.add_runs(ENTITY, PROJECT, _heavy_runs(RUNS))
        yield srv


def _runs_page_sizes(server: LocalServer) -> list[int]:
    return [int(v["first"]) for op, v in server.requests if op == "RunsPage"]


def test_the_server_refuses_large_answers(limited: LocalServer) -> None:
    with pytest.raises(HTTPStatusError, match=r"RunsPage: HTTP 502") as caught:
        _api(limited).execute_raw(  # one page of every run, asked for as such
            RUNS_PAGE,
            {"entity": ENTITY, "project": PROJECT, "filters": "{}", "order": "+created_at", "configKeys": None,
             "summaryKeys": None, "withConfig": True, "withSummary": True, "withSystem": True, "withCount": False,
             "withMetadata": False, "metadataNames": [], "first": RUNS, "after": None},
        )
    assert caught.value.status_code == 502


def test_table_splits_batches_the_server_cannot_send(limited: LocalServer, reference: pa.Table) -> None:
    table = _api(limited).runs(f"{ENTITY}/{PROJECT}").to_arrow()
    assert table.equals(reference)
    statuses = limited.traffic.statuses
    assert statuses.get(502, 0) > 0, "nothing was refused: the test proves nothing"
    sizes = _runs_page_sizes(limited)
    assert min(sizes) <= 6 < max(sizes)  # started large, split down to what the server sends
    # a batch of several runs gives up after SPLIT_ATTEMPTS tries (the policy allows 6), then splits
    assert sizes.count(RUNS) == batch_stream.SPLIT_ATTEMPTS < FAST_RETRY.max_attempts


@pytest.mark.parametrize("per_page", [7, 50])
def test_iteration_and_concurrency_split_too(limited: LocalServer, reference: pa.Table, per_page: int) -> None:
    ids = [run.id for run in _api(limited).runs(f"{ENTITY}/{PROJECT}", per_page=per_page)]
    assert ids == reference["id"].to_pylist()
    table = _api(limited).runs(f"{ENTITY}/{PROJECT}", concurrency=4).to_arrow()
    assert table.equals(reference)


def test_a_limited_page_too_large_is_listed_then_split(limited: LocalServer, reference: pa.Table) -> None:
    table = _api(limited).runs(f"{ENTITY}/{PROJECT}", limit=30).to_arrow()
    assert table.equals(reference.slice(0, 30))
    ops = [op for op, _ in limited.requests]
    assert "RunIdsPage" in ops and limited.traffic.statuses.get(502, 0) > 0


def test_later_batches_are_sized_by_what_a_run_weighs(
    monkeypatch: pytest.MonkeyPatch, reference: pa.Table
) -> None:
    monkeypatch.setattr(batch_stream, "ANSWER_BYTES", 5 * RUN_BYTES)  # ~5 runs an answer
    with LocalServer(entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, _heavy_runs(RUNS))
        ids = [run.id for run in _api(srv).runs(f"{ENTITY}/{PROJECT}", per_page=12)]
        sizes = _runs_page_sizes(srv)
        assert srv.traffic.statuses.get(502, 0) == 0
    assert ids == reference["id"].to_pylist()
    assert sizes[0] == 12  # the first page: nothing known yet
    assert 1 <= max(sizes[1:]) <= 5  # every batch after it holds what ~5 runs' answers hold


def test_a_single_run_too_large_to_send_fails_loudly() -> None:
    runs = _heavy_runs(12) + _heavy_runs(1, hist=20 * HIST, prefix="z", first_minute=60)  # the last, alone too large
    with LocalServer(entity=ENTITY, network=Network(max_answer_bytes=4 * RUN_BYTES)) as srv:
        srv.add_runs(ENTITY, PROJECT, runs)
        with pytest.raises(HTTPStatusError, match=r"RunsPage: HTTP 502") as caught:
            _api(srv).runs(f"{ENTITY}/{PROJECT}").to_arrow()
        ids: list[str] = []
        with pytest.raises(HTTPStatusError, match=r"RunsPage: HTTP 502"):
            for run in _api(srv).runs(f"{ENTITY}/{PROJECT}", per_page=4):
                ids.append(run.id)
    assert caught.value.__notes__ == [f"the server could not send run 'z0000' of project {ENTITY}/{PROJECT} on its own"]
    assert ids == [f"h{i:04d}" for i in range(12)]  # iteration hands every run before it, then fails
