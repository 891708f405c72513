"""Helpers of the conformance suite: seeded data constants and value comparison.

Values read back through the official client went through JSON (and, for history
scans, through wandb-core's Go JSON, which writes whole floats as ints: ``1.0`` -> ``1``),
so comparisons here are numeric: ``1 == 1.0``, ``NaN == NaN``, ``inf == inf``, and
``True`` is never equal to ``1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

ENTITY = "local"
PROJECT = "conf"
#: Project written by the mutation tests (kept apart so reads elsewhere stay stable).
WRITE_PROJECT = "conf-writes"
#: Project holding one run with a long history (down-sampling tests).
LONG_PROJECT = "conf-long"
LONG_STEPS = 1200
N_RUNS = 40
HISTORY_STEPS = 40
SEED = 7


def same(a: Any, b: Any, path: str = "") -> list[str]:
    """Differences between two JSON-like values (empty list: equal), compared numerically."""
    if isinstance(a, bool) or isinstance(b, bool):
        return [] if (type(a) is type(b) and a == b) else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, int | float) and isinstance(b, int | float):
        fa, fb = float(a), float(b)
        if math.isnan(fa) and math.isnan(fb):
            return []
        if fa == fb or (math.isfinite(fa) and math.isfinite(fb) and math.isclose(fa, fb, rel_tol=1e-12, abs_tol=0.0)):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'left' if key in a else 'right'}")
            else:
                out.extend(same(a[key], b[key], f"{path}.{key}"))
        return out
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str | bytes) \
            and not isinstance(b, str | bytes):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(same(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def as_utc(value: datetime | str) -> datetime:
    """A datetime or ISO string (``Z``, offset or naive = UTC) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mongo_sort_key(value: Any) -> tuple[int, float]:
    """Ascending order used for ``order`` on a numeric key: missing/null, then NaN, then numbers.

    This is the MongoDB type bracketing the local server documents; W&B's own placement of
    null and NaN is not public (see docs/conformance.md).
    """
    if value is None:
        return (0, 0.0)
    if isinstance(value, float) and math.isnan(value):
        return (1, 0.0)
    return (2, float(value))


def get_path(mapping: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path of nested dicts (None when absent)."""
    node: Any = mapping
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def operations(server: Any) -> list[str | None]:
    """Operation names a ``LocalServer`` saw since its request log was last cleared."""
    return [name for name, _ in server.requests]
