"""A network-shaped local server: latency, a bandwidth cap and a W&B-like rate limit.

:class:`Network` is passed to ``LocalServer(network=...)`` (or built from the ``serve``
flags ``--latency/--jitter/--bandwidth/--rate-limit/--burst``); :class:`NetworkShaper` applies
it inside the server's request handlers, and :class:`TrafficCounter` counts every request the
server answers (with or without a ``Network``), readable as ``LocalServer.traffic``.

The server is a ``ThreadingHTTPServer`` (one thread per connection), so the latency of
concurrent requests on separate connections overlaps, as on a real link; requests on one
keep-alive connection are answered one after another, as HTTP/1.1 without pipelining is.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Network", "NetworkShaper", "RateLimit", "TrafficCounter", "TrafficStats"]

#: Scale of W&B's ``RateLimit-Remaining`` header (a share of the quota, 0-1000).
RATE_LIMIT_SCALE = 1000
#: Bandwidth pacing writes chunks worth about this many seconds of the link (bounded below).
_PACE_SECONDS = 0.01
_MIN_CHUNK = 1024


@dataclass(frozen=True)
class RateLimit:
    """A token bucket over ``/graphql`` requests: ``rate`` tokens per second, at most ``burst``.

    Each ``/graphql`` POST takes one token; with none left the server answers HTTP 429 with
    W&B's signals: the body ``{"errors": [{"message": "rate limit exceeded"}]}``, a
    ``Retry-After`` header in seconds (fractional, e.g. ``0.05``: the time until a token is
    free, or ``retry_after`` when set), ``RateLimit-Limit: 1000``, ``RateLimit-Remaining: 0``
    and ``RateLimit-Reset`` (seconds, the same value as ``Retry-After``; W&B reports the
    remaining quota on a 0-1000 scale). A 429 takes no token. Downloads (parquet, files,
    artifacts) are not rate limited: on W&B they come from cloud storage.
    """

    rate: float
    burst: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate_limit rate must be a finite number of requests/s > 0")
        if self.burst is None:
            object.__setattr__(self, "burst", max(1, math.ceil(self.rate)))
        if self.capacity < 1:
            raise ValueError("rate_limit burst must be >= 1")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("rate_limit retry_after must be >= 0")

    @property
    def capacity(self) -> int:
        """The bucket size (``burst``, defaulting to ``ceil(rate)``)."""
        return int(self.burst or 0)


@dataclass(frozen=True)
class Network:
    """How the local server's link behaves; ``LocalServer(network=Network(...))``.

    Args:
        latency: seconds added to every HTTP request the server answers (``/graphql``,
            parquet/file/artifact downloads, ``HEAD``, health checks), slept in the
            request's own thread before it is handled: concurrent requests overlap.
        jitter: up to this many extra seconds per request, drawn uniformly from a
            ``seed``-ed RNG (so concurrent answers may come back out of order).
        bandwidth: bytes per second for response bodies (as sent, i.e. after gzip), shared
            by all connections like one link; None: unlimited. Headers are not paced.
        rate_limit: a :class:`RateLimit` on ``/graphql`` requests; None: no limit.
        seed: seed of the jitter draws.
        max_answer_bytes: a ``/graphql`` answer larger than this (before gzip) is not sent:
            the server answers HTTP 502 instead, as W&B's gateway does when a query's answer
            is too large to build or send in time (a page of runs whose summaries hold
            histograms); None: no limit.
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    rate_limit: RateLimit | None = None
    seed: int = 0
    max_answer_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must be >= 0 seconds")
        if self.max_answer_bytes is not None and not self.max_answer_bytes > 0:
            raise ValueError("max_answer_bytes must be > 0 (or None for no limit)")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError("bandwidth must be > 0 bytes/s (or None for unlimited)")


@dataclass(frozen=True)
class TrafficStats:
    """A snapshot of what the server answered (see :attr:`LocalServer.traffic`).

    Attributes:
        requests: HTTP requests answered, every route and status.
        graphql: ``POST /graphql`` requests among them.
        downloads: ``GET``/``HEAD`` requests for parquet, files and artifacts.
        rate_limited: 429 answers of the :class:`RateLimit` (injected ``Faults`` 429s are
            counted in ``LocalServer.fault_counts``, and both in ``statuses[429]``).
        statuses: answers by HTTP status.
        body_bytes: response body bytes sent (after gzip).
        max_in_flight: the most requests being handled at once (latency included).
    """

    requests: int = 0
    graphql: int = 0
    downloads: int = 0
    rate_limited: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    body_bytes: int = 0
    max_in_flight: int = 0


class TrafficCounter:
    """Thread-safe counters behind :class:`TrafficStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter (requests in flight stay counted as in flight)."""
        with self._lock:
            self._routes: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._rate_limited = 0
            self._bytes = 0
            self._max_in_flight = self._in_flight

    def begin(self, route: str) -> None:
        """A request of ``route`` ("graphql", "download" or "other") starts."""
        with self._lock:
            self._routes[route] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def end(self) -> None:
        """The request started last by this thread is answered."""
        with self._lock:
            self._in_flight -= 1

    def sent(self, status: int, body_bytes: int, rate_limited: bool = False) -> None:
        """One answer of ``status`` with ``body_bytes`` of body left (or is leaving)."""
        with self._lock:
            self._statuses[status] += 1
            self._bytes += body_bytes
            self._rate_limited += rate_limited

    def snapshot(self) -> TrafficStats:
        """The counts so far."""
        with self._lock:
            return TrafficStats(
                requests=sum(self._routes.values()), graphql=self._routes["graphql"],
                downloads=self._routes["download"], rate_limited=self._rate_limited,
                statuses=dict(self._statuses), body_bytes=self._bytes, max_in_flight=self._max_in_flight,
            )


class NetworkShaper:
    """Applies a :class:`Network` (or nothing, for None) in the server's handler threads."""

    def __init__(self, network: Network | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.network = network or Network()
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(self.network.seed)
        limit = self.network.rate_limit
        self._tokens = float(limit.capacity) if limit else 0.0
        self._refilled_at = clock()
        self._link_free_at = 0.0

    def delay(self) -> None:
        """Sleep one request's latency (plus its jitter draw)."""
        net = self.network
        wait = net.latency
        if net.jitter:
            with self._lock:
                wait += self._rng.uniform(0.0, net.jitter)
        if wait > 0:
            time.sleep(wait)

    def admit(self) -> float | None:
        """Take a rate-limit token: None when admitted, else the seconds until one is free."""
        limit = self.network.rate_limit
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            self._tokens = min(float(limit.capacity), self._tokens + (now - self._refilled_at) * limit.rate)
            self._refilled_at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / limit.rate

    def rate_limit_headers(self, wait: float) -> dict[str, str]:
        """The headers of a 429 answer that asks to wait ``wait`` seconds."""
        limit = self.network.rate_limit
        hint = limit.retry_after if limit is not None and limit.retry_after is not None else wait
        text = f"{math.ceil(hint * 1000) / 1000:g}"  # whole milliseconds, never rounded down to 0
        return {"Retry-After": text, "RateLimit-Limit": str(RATE_LIMIT_SCALE), "RateLimit-Remaining": "0",
                "RateLimit-Reset": text}

    @property
    def paced(self) -> bool:
        """Whether response bodies are paced (a bandwidth cap is set)."""
        return self.network.bandwidth is not None

    def write(self, send: Callable[[bytes], object], body: bytes) -> None:
        """Send ``body`` through ``send`` in chunks, no faster than the shared link allows."""
        rate = self.network.bandwidth
        if rate is None:
            send(body)
            return
        chunk = max(_MIN_CHUNK, int(rate * _PACE_SECONDS))
        view = memoryview(body)
        for start in range(0, len(body), chunk):
            piece = view[start:start + chunk]
            with self._lock:  # reserve this chunk's slot on the link, after every earlier one
                begin = max(self._clock(), self._link_free_at)
                self._link_free_at = begin + len(piece) / rate
                done = self._link_free_at
            pause = done - self._clock()
            if pause > 0:
                time.sleep(pause)
            send(piece.tobytes())
