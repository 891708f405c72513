"""The one interface modules above the transport need: run one GraphQL operation.

:class:`~wandb_frames.api.Api` satisfies it; so does any object with a matching
``execute`` method. The surface modules (projects, sweeps, artifacts, reports, files) and
:mod:`wandb_frames.history` take an :class:`Executor` instead of importing the client core,
and :func:`~wandb_frames.graphql.pagination.iter_pages` takes its bound ``execute``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from graphql import DocumentNode

from wandb_frames.graphql.documents import Document

__all__ = ["Executor"]


class Executor(Protocol):
    """Runs one GraphQL operation and returns its ``data`` object.

    Implementations raise only :mod:`wandb_frames.errors` exceptions (``GraphQLError`` for
    an answer with ``errors``, ``AuthenticationError``, ``RateLimitError`` after retries, …).
    """

    def execute(
        self,
        document: Document | DocumentNode,
        variables: Mapping[str, Any],
        *,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """Send ``document`` with ``variables``; return the response's ``data``.

        Args:
            document: One of :mod:`wandb_frames.graphql.documents` (it knows its operation
                name) or a parsed graphql-core document.
            variables: The operation's variables.
            operation: The operation name; default: the document's (first) operation.
        """
        ...
