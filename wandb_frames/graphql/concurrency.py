"""How many requests one client keeps in flight against one server: grown while answers are
healthy, halved when the server pushes back.

The rule is TCP's (additive increase, multiplicative decrease): every ``limit`` healthy answers
in a row raise the limit by one, up to ``maximum``; a 429 or 5xx answer (or a connection that
fails) halves it, at most once per ``cooldown`` seconds (the answers to requests already in
flight say nothing new), down to ``minimum``. A rate-limited request is retried by the transport
after the server's ``Retry-After``: the limit only decides how many others are sent meanwhile,
so a rate limit slows a fetch down and never fails it.

One :class:`AdaptiveLimit` belongs to one :class:`~wandb_frames.graphql.transport.HttpTransport`
(one server); every concurrent fetch of that client (run batches, histories) takes a
:meth:`~AdaptiveLimit.slot` per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["AdaptiveLimit"]

logger = logging.getLogger("wandb_frames.transport")


class AdaptiveLimit:
    """A resizable semaphore whose size follows the server's health.

    Args:
        initial: Requests in flight at first.
        minimum: The limit never drops below this.
        maximum: The limit never grows above this.
        cooldown: Seconds after a decrease during which further push-back is not counted again.
        clock: Monotonic seconds (injectable for tests).

    Raises:
        ValueError: ``minimum <= initial <= maximum`` does not hold, or ``minimum < 1``.
    """

    def __init__(
        self,
        initial: int = 4,
        *,
        minimum: int = 1,
        maximum: int = 16,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError(f"need 1 <= minimum <= initial <= maximum, got {minimum}, {initial}, {maximum}")
        self.minimum = minimum
        self.maximum = maximum
        self.cooldown = cooldown
        self._clock = clock
        self._limit = initial
        self._in_flight = 0
        self._healthy_run = 0
        self._calm_after = float("-inf")
        self._changed = threading.Condition()
        self.decreases = 0
        """How many times the server made this limit shrink."""
        self.peak = initial
        """The highest limit reached."""

    def __repr__(self) -> str:
        return f"<AdaptiveLimit {self._in_flight}/{self._limit} in flight (max {self.maximum})>"

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests in flight now."""
        return self._in_flight

    def acquire(self) -> None:
        """Wait until fewer than :attr:`limit` requests are in flight, then count one more."""
        with self._changed:
            while self._in_flight >= self._limit:
                self._changed.wait()
            self._in_flight += 1

    def release(self) -> None:
        """Count one request less in flight."""
        with self._changed:
            self._in_flight -= 1
            self._changed.notify()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request's place for the ``with`` block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def healthy(self) -> None:
        """An answer came back well: after ``limit`` of them in a row, allow one more in flight."""
        with self._changed:
            self._healthy_run += 1
            if self._healthy_run >= self._limit and self._limit < self.maximum:
                self._limit += 1
                self.peak = max(self.peak, self._limit)
                self._healthy_run = 0
                self._changed.notify()

    def pushed_back(self, reason: str) -> None:
        """The server answered 429/5xx or a connection failed: halve the limit (once per cooldown)."""
        with self._changed:
            self._healthy_run = 0
            now = self._clock()
            if now < self._calm_after:
                return
            self._calm_after = now + self.cooldown
            new = max(self.minimum, self._limit // 2)
            if new < self._limit:
                logger.info("server pushed back (%s): %d -> %d requests in flight", reason, self._limit, new)
                self._limit = new
                self.decreases += 1
