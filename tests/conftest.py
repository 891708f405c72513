"""Suite-wide settings.

Hypothesis profiles: "dev" (200 examples) and "ci" (2,000, what CI runs: the filter
compilers' agreement with mongomock is checked on at least 2,000 random cases). Selected by
``HYPOTHESIS_PROFILE``; the default is "ci" when the ``CI`` variable is set, "dev" otherwise.
Tests that need another count say so with their own ``@settings``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
