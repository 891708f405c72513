"""The adaptive limit of requests in flight, and failing fast on a server never reached."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.api import Api
from wandb_frames.errors import TransportError
from wandb_frames.graphql.concurrency import AdaptiveLimit


def test_healthy_answers_grow_the_limit_one_per_window() -> None:
    limit = AdaptiveLimit(2, maximum=4)
    for _ in range(2):
        limit.healthy()
    assert limit.limit == 3
    for _ in range(3):
        limit.healthy()
    assert limit.limit == 4
    for _ in range(100):
        limit.healthy()
    assert limit.limit == 4 and limit.peak == 4


def test_push_back_halves_once_per_cooldown() -> None:
    now = [0.0]
    limit = AdaptiveLimit(16, maximum=16, cooldown=1.0, clock=lambda: now[0])
    limit.pushed_back("HTTP 429")
    limit.pushed_back("HTTP 429")  # the same burst of answers: counted once
    assert limit.limit == 8 and limit.decreases == 1
    now[0] = 1.5
    limit.pushed_back("HTTP 503")
    assert limit.limit == 4
    for _ in range(10):
        now[0] += 2
        limit.pushed_back("HTTP 429")
    assert limit.limit == limit.minimum == 1


@given(st.lists(st.sampled_from(["ok", "429", "tick"]), max_size=200), st.integers(1, 8), st.integers(0, 8))
def test_the_limit_stays_within_its_bounds(events: list[str], initial: int, extra: int) -> None:
    now = [0.0]
    limit = AdaptiveLimit(initial, maximum=initial + extra, clock=lambda: now[0])
    for event in events:
        if event == "ok":
            limit.healthy()
        elif event == "429":
            limit.pushed_back("HTTP 429")
        else:
            now[0] += 0.7
        assert limit.minimum <= limit.limit <= limit.maximum


def test_never_more_requests_in_flight_than_the_limit() -> None:
    limit = AdaptiveLimit(3, maximum=3)
    inside = []
    most = [0]
    lock = threading.Lock()

    def work() -> None:
        with limit.slot():
            with lock:
                inside.append(1)
                most[0] = max(most[0], len(inside))
            time.sleep(0.01)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 3 and limit.in_flight == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_never_reached_fails_within_seconds_naming_the_url(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    api = Api(api_key="local-" + "k" * 40, overrides={"base_url": f"http://127.0.0.1:{port}"}, progress=False)
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="wandb_frames"), pytest.raises(TransportError) as info:
        api.runs("e/p").to_arrow()
    assert time.monotonic() - start < 6.0
    message = str(info.value)
    assert "\n" not in message and f"http://127.0.0.1:{port}/graphql" in message
    assert "k" * 40 not in message
    assert any("retrying in" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
