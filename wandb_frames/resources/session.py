"""What the resources need of ``Api``: a :class:`~wandb_frames.graphql.session.Session` and its cache."""

from __future__ import annotations

from typing import Any, Protocol

from wandb_frames.cache.store import RunsCache
from wandb_frames.graphql.session import Session

__all__ = ["ApiSession"]


class ApiSession(Session, Protocol):
    """A :class:`Session` with the on-disk cache the listings and histories read through."""

    @property
    def cache(self) -> RunsCache | None:
        """The on-disk cache, or None when caching is off."""
        ...

    def sweep(self, path: str = "") -> Any:
        """One sweep by ``"entity/project/sweep_id"`` (``Run.sweep`` uses it)."""
        ...
