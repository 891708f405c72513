"""The retry policy of the transport: which answers are retried, and how long to wait.

- retried: 429 (honouring ``Retry-After`` in seconds or as an HTTP date, else
  ``RateLimit-Reset``), 500, 502, 503, 504, connection errors/timeouts and truncated bodies,
  with exponential backoff plus jitter, bounded by ``RetryPolicy.max_attempts`` and an overall
  ``RetryPolicy.deadline``; a 429 is waited out until the deadline and never counts as an
  attempt (a rate limit slows a fetch down, it does not fail it); a server never reached
  (connection refused, unknown host) fails after ``RetryPolicy.connect_deadline``;
- never retried: any other status (400, 401, 403, 404, …) and a 200 carrying GraphQL ``errors``.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["RETRYABLE_STATUS", "RetryPolicy", "parse_retry_after", "retry_delay", "server_wait"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried.

    Attributes:
        max_attempts: Attempts per request, the first included.
        deadline: Seconds allowed for one request, all attempts and waits included.
        base_delay: The first backoff wait; attempt ``n`` waits ``base_delay * 2**(n-1)``.
        max_delay: Cap of one backoff wait (a server's ``Retry-After`` is honoured as given).
        jitter: Relative random extra wait, ``U[0, jitter]`` times the backoff.
        connect_deadline: See below.
    """

    max_attempts: int = 8
    deadline: float = 120.0
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.25
    connect_deadline: float = 5.0
    """Seconds allowed for a server that was never reached (connection refused, unknown host)
    before giving up: a wrong URL or a server that is down fails fast, not after ``deadline``.
    Once any request of the transport got an answer, connection failures are retried for the
    whole ``deadline`` (a server that restarts)."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (delta seconds or an HTTP date) into seconds.

    Args:
        value: The header value, or None.
        now: The current time for HTTP dates (default: now, UTC).

    Returns:
        Non-negative seconds, or None when absent or unparseable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The server's ``Retry-After`` (or ``RateLimit-Reset``) wins when given, uncapped: the
    caller's overall deadline decides whether waiting that long is allowed; otherwise
    ``min(max_delay, base_delay * 2**(attempt-1)) * (1 + jitter * U[0,1))``.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    backoff = min(policy.max_delay, policy.base_delay * 2.0 ** max(0, attempt - 1))
    return backoff * (1.0 + policy.jitter * rand())


def server_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: ``Retry-After``, else ``RateLimit-Reset`` (W&B sends both)."""
    wait = parse_retry_after(headers.get("Retry-After"))
    return wait if wait is not None else parse_retry_after(headers.get("RateLimit-Reset"))
