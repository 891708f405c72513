"""HTTP byte ranges for the server's presigned-like downloads (parquet history, run files).

Only a single ``bytes`` range is honoured, as cloud storage does for the reads wandb-core makes:
``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``. Anything else (another unit, several ranges,
bad syntax) is ignored and the whole body is served, which RFC 9110 §14.2 allows.
"""

from __future__ import annotations

import re

__all__ = ["Unsatisfiable", "byte_range"]

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


class Unsatisfiable(ValueError):
    """A syntactically valid range that selects no byte of the body (answer 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions a ``Range`` header selects.

    Args:
        header: the ``Range`` header value (None when absent).
        size: the length of the full (identity) body.

    Returns:
        ``None`` when the header is absent, unsupported or malformed (serve the whole body);
        otherwise the inclusive positions, with ``last`` clamped to ``size - 1``.

    Raises:
        Unsatisfiable: the range starts at or past the end, or asks for a zero-length suffix.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last n bytes
        n = int(last_text)
        if n == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(size - n, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return None
    if first >= size:
        raise Unsatisfiable(header)
    return first, size - 1 if last is None else min(last, size - 1)
