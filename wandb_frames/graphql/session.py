"""The narrow interface everything above the transport sends requests through.

:class:`~wandb_frames.api.Api` satisfies :class:`Session`; the objects that mirror wandb's
(``wandb_frames.resources``), the histories and the on-disk cache take a ``Session`` and never
import ``Api``, so the entry point sits on top of the layers and nothing points back up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wandb_frames.graphql.answers import RawAnswer
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.transport import HttpTransport
from wandb_frames.settings import Settings

__all__ = ["Session"]


class Session(Executor, Protocol):
    """Runs GraphQL operations (whole, raw or pending) and downloads files for one server."""

    @property
    def settings(self) -> Settings:
        """The resolved settings (base URL, timeouts; the key is never printed)."""
        ...

    @property
    def transport(self) -> HttpTransport:
        """The HTTP transport (retries, auth only on the API origin) for file downloads."""
        ...

    def execute_raw(
        self, document: Document, variables: Mapping[str, Any], *, attempts: int | None = None
    ) -> RawAnswer:
        """Send a query; return its whole answer unparsed (``attempts``: at most this many tries)."""
        ...

    def decode_answer(self, answer: RawAnswer) -> dict[str, Any]:
        """Parse a raw or pending answer's body into ``data`` (GraphQL ``errors`` raise)."""
        ...

    def resolve_entity(self, entity: str | None) -> str:
        """``entity``, else the configured default, else the viewer's entity."""
        ...
