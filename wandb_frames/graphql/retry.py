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

import dataclasses
import email.utils
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from wandb_frames.errors import ConfigurationError

__all__ = ["RETRYABLE_STATUS", "RetryPolicy", "parse_retry_after", "retry_delay", "server_wait", "with_retry_limits"]

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

    def capped(self, attempts: int | None) -> RetryPolicy:
        """This policy with at most ``attempts`` attempts (None: unchanged).

        For a request whose caller can ask differently after a failure (a batch that is split
        in halves): it gives up sooner. A 429 is still waited out, as with every policy.
        """
        if attempts is None or attempts >= self.max_attempts:
            return self
        return dataclasses.replace(self, max_attempts=max(1, attempts))


def with_retry_limits(
    policy: RetryPolicy | None, *, max_retries: int | None = None, deadline: float | None = None
) -> RetryPolicy:
    """``policy`` (default :class:`RetryPolicy` ``()``) with its retries and deadline replaced.

    Args:
        policy: The policy to start from.
        max_retries: Retries after the first attempt (``max_attempts = max_retries + 1``).
        deadline: Seconds allowed for one request, all attempts and waits included.

    Raises:
        ConfigurationError: ``max_retries`` is negative or not a whole number, or
            ``deadline`` is not a positive number of seconds.
    """
    policy = policy or RetryPolicy()
    if max_retries is not None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0 (got {max_retries!r})")
        policy = dataclasses.replace(policy, max_attempts=max_retries + 1)
    if deadline is not None:
        if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not (
            math.isfinite(deadline) and deadline > 0
        ):
            raise ConfigurationError(f"retry_deadline must be a positive number of seconds (got {deadline!r})")
        policy = dataclasses.replace(policy, deadline=float(deadline))
    return policy


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
