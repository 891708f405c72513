"""The on-disk cache: runs tables and finished runs' histories, kept per query.

Layer: below :mod:`wandb_frames.resources` (``Runs``/``Run`` read through it), above
:mod:`wandb_frames.history` and :mod:`wandb_frames.graphql`. It never imports the objects that
read from it: a listing hands it a :class:`~wandb_frames.cache.listing.CachedListing` (what to
fetch, and how), and it answers with a table.

- ``store``: the files (:class:`RunsCache`: layout, stamps, damage handling, ``clear``);
- ``listing``: a runs listing answered from the cache and refreshed incrementally;
- ``refresh``: the anchored scan that finds what changed since the last fetch;
- ``merge``: upserting fresh runs into a cached table;
- ``histories``: finished runs' long histories, keyed by state and heartbeat.
"""

from __future__ import annotations

from wandb_frames.cache.store import CacheInfo, RunsCache, default_cache_dir, resolve_cache

__all__ = ["CacheInfo", "RunsCache", "default_cache_dir", "resolve_cache"]
