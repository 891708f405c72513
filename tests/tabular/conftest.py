"""Shared helpers for the tabular tests."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from wandb_frames.errors import WandbFramesWarning

Collect = Callable[[Callable[[], Any]], tuple[Any, list[warnings.WarningMessage]]]


def collect_warnings(fn: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    """Call ``fn`` and return its result and every WandbFramesWarning it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [w for w in caught if issubclass(w.category, WandbFramesWarning)]


@pytest.fixture
def collect() -> Collect:
    """The :func:`collect_warnings` helper."""
    return collect_warnings
