"""Pause Python's cyclic garbage collector around allocation-heavy steps that make no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; re-enable it after if it was enabled.

    Parsing and flattening a page of runs allocates ~10⁵ containers (JSON objects and lists,
    never cyclic: freed by reference counting). Each 700 allocations would trigger a
    generation-0 collection that scans them for nothing; with the collector paused, the
    page is parsed, flattened and freed without a scan. Objects that outlive the block are
    collected normally afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
