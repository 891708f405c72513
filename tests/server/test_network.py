"""The network-shaped server over real HTTP: latency, overlap, bandwidth, rate limit, counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from server_support import ENTITY, PROJECT, Client, make_runs

from wandb_frames.testing import LocalServer, Network, RateLimit
from wandb_frames.testing.network import NetworkShaper
from wandb_frames.testing.serve import _parser, network_from_args

Q = 'query Probe { project(name: "proj", entityName: "ent") { runCount } }'
LATENCY = 0.04


def elapsed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.fixture()
def slow() -> Iterator[LocalServer]:
    with LocalServer(network=Network(latency=LATENCY)) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(3))
        yield srv


def parquet_url(client: Client) -> str:
    doc = ("query P($e: String!, $p: String!) { project(name: $p, entityName: $e) { run(name: \"run001\") "
           "{ parquetHistory(liveKeys: [\"_step\"]) { parquetUrls } } } }")
    (url,) = client(doc, {"e": ENTITY, "p": PROJECT})["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
    assert isinstance(url, str)
    return url


def test_latency_applies_to_graphql_downloads_and_every_route(slow: LocalServer) -> None:
    client = Client(slow)
    client(Q)  # connect once: the timings below are request round trips, not TCP setup
    assert elapsed(lambda: client(Q)) >= LATENCY
    url = parquet_url(client)
    assert elapsed(lambda: client.session.get(url, timeout=10).raise_for_status()) >= LATENCY
    assert elapsed(lambda: client.session.head(url, timeout=10).raise_for_status()) >= LATENCY
    assert elapsed(lambda: client.session.get(slow.url + "/healthz", timeout=10).raise_for_status()) >= LATENCY
    response = client.session.get(slow.url + "/parquet/wrong/token/x", timeout=10)
    assert response.status_code == 404
    traffic = slow.traffic
    assert (traffic.graphql, traffic.downloads, traffic.requests) == (3, 3, 7)
    assert traffic.statuses == {200: 6, 404: 1}


def test_concurrent_requests_overlap_their_latency() -> None:
    n, latency = 10, 0.05
    with LocalServer(network=Network(latency=latency)) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(3))
        clients = [Client(srv) for _ in range(n)]
        for client in clients:
            client(Q)
        srv.reset_traffic()
        barrier = threading.Barrier(n)

        def one(client: Client) -> None:
            barrier.wait()
            client(Q)

        threads = [threading.Thread(target=one, args=(c,)) for c in clients]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        assert latency <= wall < n * latency / 2  # one after another would take n * latency
        assert srv.traffic.graphql == n and srv.traffic.max_in_flight >= 3


def test_jitter_adds_at_most_its_bound() -> None:
    with LocalServer(network=Network(latency=0.01, jitter=0.03, seed=5)) as srv:
        client = Client(srv)
        client.post(Q)
        times = [elapsed(lambda: client.post(Q)) for _ in range(5)]
        assert all(t >= 0.01 for t in times)
        assert max(times) < 0.01 + 0.03 + 0.5


LISTING = 'query { project(name: "proj", entityName: "ent") { runs(first: 200) { edges { node { config } } } } }'


def identity_post(srv: LocalServer, session: requests.Session) -> int:
    response = session.post(srv.url + "/graphql", json={"query": LISTING}, timeout=30,
                            headers={"Accept-Encoding": "identity"}, auth=("api", srv.api_key))
    response.raise_for_status()
    return len(response.content)


def test_bandwidth_caps_response_bodies() -> None:
    bandwidth = 1_000_000.0
    with LocalServer(network=Network(bandwidth=bandwidth)) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(150, n_keys=60))
        session = requests.Session()
        identity_post(srv, session)
        srv.reset_traffic()
        sizes: list[int] = []
        wall = elapsed(lambda: sizes.append(identity_post(srv, session)))
        assert sizes[0] == srv.traffic.body_bytes > 100_000
        assert 0.9 * sizes[0] / bandwidth <= wall < sizes[0] / bandwidth + 1.0


def test_bandwidth_is_shared_by_concurrent_connections() -> None:
    bandwidth = 2_000_000.0
    with LocalServer(network=Network(bandwidth=bandwidth)) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(150, n_keys=60))
        sessions = [requests.Session(), requests.Session()]
        for s in sessions:
            identity_post(srv, s)
        srv.reset_traffic()
        threads = [threading.Thread(target=identity_post, args=(srv, s)) for s in sessions]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        assert wall >= 0.9 * srv.traffic.body_bytes / bandwidth  # both bodies through one link


def test_rate_limit_answers_429_after_the_burst_and_recovers() -> None:
    with LocalServer(network=Network(rate_limit=RateLimit(rate=2, burst=4))) as srv:
        srv.add_runs(ENTITY, PROJECT, make_runs(2))
        client = Client(srv)
        url = parquet_url(client)  # the first token
        assert [client.post(Q).status_code for _ in range(3)] == [200, 200, 200]
        limited = client.post(Q)
        assert limited.status_code == 429
        assert limited.json() == {"errors": [{"message": "rate limit exceeded"}]}
        wait = float(limited.headers["Retry-After"])
        assert 0 < wait <= 0.5
        assert limited.headers["RateLimit-Reset"] == limited.headers["Retry-After"]
        assert limited.headers["RateLimit-Remaining"] == "0"
        assert limited.headers["RateLimit-Limit"] == "1000"
        assert client.session.get(url, timeout=10).status_code == 200  # downloads are not limited
        time.sleep(wait)
        assert client.post(Q).status_code == 200
        traffic = srv.traffic
        assert traffic.rate_limited == traffic.statuses[429] == 1
        assert (traffic.graphql, traffic.downloads, traffic.statuses[200]) == (6, 1, 6)


def test_fixed_retry_after() -> None:
    with LocalServer(network=Network(rate_limit=RateLimit(rate=0.5, burst=1, retry_after=2))) as srv:
        client = Client(srv)
        assert client.post(Q).status_code == 200
        response = client.post(Q)
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"


def test_sustained_rate_is_held_over_http() -> None:
    rate, burst = 40.0, 4
    with LocalServer(network=Network(rate_limit=RateLimit(rate=rate, burst=burst))) as srv:
        client = Client(srv)
        start = time.perf_counter()
        ok = 0
        while time.perf_counter() - start < 0.5:
            response = client.post(Q)
            if response.status_code == 429:
                time.sleep(float(response.headers["Retry-After"]))
            else:
                ok += 1
        wall = time.perf_counter() - start
        assert ok <= burst + rate * wall + 1
        assert ok >= 0.5 * rate * 0.5  # honouring Retry-After keeps it near the rate
        assert srv.traffic.rate_limited == srv.traffic.graphql - ok


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 100), burst=st.integers(1, 20),
       gaps=st.lists(st.floats(0, 0.3), min_size=1, max_size=80))
def test_token_bucket_never_admits_more_than_burst_plus_rate(rate: float, burst: int, gaps: list[float]) -> None:
    now = [0.0]
    shaper = NetworkShaper(Network(rate_limit=RateLimit(rate=rate, burst=burst)), clock=lambda: now[0])
    admitted: list[float] = []
    for gap in gaps:
        now[0] += gap
        wait = shaper.admit()
        if wait is None:
            admitted.append(now[0])
        else:
            assert 0 < wait <= 1 / rate + 1e-9
    for i, t0 in enumerate(admitted):  # any window [t0, t1] admits at most burst + rate * (t1 - t0)
        for j in range(i, len(admitted)):
            assert j - i + 1 <= burst + rate * (admitted[j] - t0) + 1e-6


def test_token_bucket_admits_again_after_the_hinted_wait() -> None:
    now = [0.0]
    shaper = NetworkShaper(Network(rate_limit=RateLimit(rate=10, burst=2)), clock=lambda: now[0])
    assert shaper.admit() is None and shaper.admit() is None
    wait = shaper.admit()
    assert wait == pytest.approx(0.1)
    now[0] += wait
    assert shaper.admit() is None


@pytest.mark.parametrize("bad", [
    lambda: Network(latency=-1), lambda: Network(jitter=-0.1), lambda: Network(bandwidth=0),
    lambda: RateLimit(rate=0), lambda: RateLimit(rate=5, burst=0), lambda: RateLimit(rate=float("inf")),
])
def test_invalid_network_rejected(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()


def test_rate_limit_burst_defaults_to_the_rate() -> None:
    assert RateLimit(rate=20).capacity == 20 and RateLimit(rate=0.5).capacity == 1


def test_serve_flags_build_the_network() -> None:
    assert network_from_args(_parser().parse_args([])) is None
    args = _parser().parse_args(["--latency", "0.05", "--bandwidth", "1e6", "--rate-limit", "20", "--burst", "5"])
    assert network_from_args(args) == Network(latency=0.05, bandwidth=1e6, rate_limit=RateLimit(20, 5))
    args = _parser().parse_args(["--max-answer-bytes", "1000"])
    assert network_from_args(args) == Network(max_answer_bytes=1000)


def test_answers_over_max_answer_bytes_are_refused_with_502() -> None:
    with LocalServer(network=Network(max_answer_bytes=300)) as srv:
        client = Client(srv)
        client("query Small { viewer { username } }")
        big = client("query Big { __schema { types { name } } }", status=502)
        assert big == {"errors": [{"message": "bad gateway: the answer to Big is too large"}]}
    with pytest.raises(ValueError, match="max_answer_bytes"):
        Network(max_answer_bytes=0)


def test_set_network_changes_the_shape() -> None:
    with LocalServer() as srv:
        client = Client(srv)
        client.post(Q)
        srv.set_network(Network(rate_limit=RateLimit(rate=1, burst=1)))
        assert [client.post(Q).status_code for _ in range(2)] == [200, 429]
        srv.set_network(None)
        assert client.post(Q).status_code == 200
