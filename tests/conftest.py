"""Suite-wide settings.

Hypothesis profiles: "dev" (200 examples) and "ci" (2,000, what CI runs: the filter
compilers' agreement with mongomock is checked on at least 2,000 random cases). Selected by
``HYPOTHESIS_PROFILE``; the default is "ci" when the ``CI`` variable is set, "dev" otherwise.
Tests that need another count say so with their own ``@settings``.

In the server, client and conformance suites the local server also checks its executor
against graphql-core's (see ``_reference_executor``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from wandb_frames.testing import engine

settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


_CHECKED_SUITES = ("server", "client", "conformance")


@pytest.fixture(autouse=True)
def _reference_executor(request: pytest.FixtureRequest) -> Iterator[None]:
    """In the server, client and conformance suites, every query the local server answers is
    also run by graphql-core's own executor, and the answers must agree (the server's executor
    takes a shortcut for plain fields: ``testing/engine.py``)."""
    if request.node.path.parent.name not in _CHECKED_SUITES:
        yield
        return
    engine.check_executor = True
    engine.executor_mismatches.clear()
    try:
        yield
    finally:
        engine.check_executor = False
    assert not engine.executor_mismatches, engine.executor_mismatches
