"""Deterministic fault injection for the local server (429, 5xx, delays, truncated bodies)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Decision", "FaultInjector", "Faults"]


@dataclass(frozen=True)
class Faults:
    """Shares of ``/graphql`` requests answered with a fault, drawn from a seeded RNG.

    For every eligible request (in arrival order) one uniform draw picks at most one of:
    429 with ``Retry-After: <retry_after>`` (``rate_limit``), a status from ``statuses``
    (``server_error``), or a body cut in half (``truncate``); a second draw adds a
    ``delay``-second sleep with probability ``delay_rate``. With ``only_operations`` set,
    only those operation names are eligible (others draw nothing, so the sequence of
    faults for eligible requests stays the same).
    """

    seed: int = 0
    rate_limit: float = 0.0
    retry_after: float = 0.05
    server_error: float = 0.0
    statuses: tuple[int, ...] = (500, 502, 503)
    delay: float = 0.0
    delay_rate: float = 0.0
    truncate: float = 0.0
    only_operations: Iterable[str] | None = None

    def __post_init__(self) -> None:
        shares = (self.rate_limit, self.server_error, self.truncate, self.delay_rate)
        if any(s < 0 for s in shares) or self.rate_limit + self.server_error + self.truncate > 1:
            raise ValueError("fault rates must be >= 0 and rate_limit + server_error + truncate <= 1")
        if self.server_error and not self.statuses:
            raise ValueError("server_error needs at least one status")
        if self.only_operations is not None:
            object.__setattr__(self, "only_operations", frozenset(self.only_operations))


@dataclass(frozen=True)
class Decision:
    """What to do with one request: ``kind`` in {None, "rate_limit", "server_error", "truncate"}."""

    kind: str | None = None
    status: int = 200
    delay: float = 0.0


@dataclass
class FaultInjector:
    """Draws :class:`Decision` objects from :class:`Faults` and counts them."""

    faults: Faults
    counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self.counts = {"rate_limit": 0, "server_error": 0, "truncate": 0, "delay": 0}

    def decide(self, operation: str | None) -> Decision:
        """The fault (or none) for the next request of ``operation``."""
        f = self.faults
        only = f.only_operations
        if only is not None and operation not in only:  # type: ignore[operator]
            return Decision()
        with self._lock:
            u, v = self._rng.random(), self._rng.random()
            status = f.statuses[self._rng.randrange(len(f.statuses))] if f.statuses else 500
            delay = f.delay if v < f.delay_rate and f.delay > 0 else 0.0
            if delay:
                self.counts["delay"] += 1
            kind: str | None = None
            if u < f.rate_limit:
                kind, status = "rate_limit", 429
            elif u < f.rate_limit + f.server_error:
                kind = "server_error"
            elif u < f.rate_limit + f.server_error + f.truncate:
                kind, status = "truncate", 200
            if kind is not None:
                self.counts[kind] += 1
            return Decision(kind, status if kind else 200, delay)
