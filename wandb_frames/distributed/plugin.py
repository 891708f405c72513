"""Give a ``distributed`` cluster's workers the API key, outside the task graph.

``client.register_plugin(ApiKeyPlugin(api))`` sends the key once to every worker (and to
workers that join later) over the cluster's own connections; each worker keeps it in memory
for the API's base URL (:func:`~wandb_frames.distributed.connection.register_api_key`). The
key is then in no task, no task key, no log line and no pickled graph. Use TLS between client,
scheduler and workers on a shared network (``docs/scale.md``). Without the plugin, workers
use their own ``WANDB_API_KEY`` or ``~/.netrc``.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from wandb_frames.distributed.connection import register_api_key
from wandb_frames.errors import ConfigurationError
from wandb_frames.graphql.session import Session

__all__ = ["ApiKeyPlugin"]


class ApiKeyPlugin(WorkerPlugin):  # type: ignore[misc]  # distributed is untyped
    """A worker plugin that registers an ``Api``'s key on every worker (its repr hides it).

    Args:
        api: The ``Api`` (or any session) whose key and base URL to send.
    """

    name = "wandb-frames-api-key"

    def __init__(self, api: Session) -> None:
        key = api.settings.api_key
        if not key:
            raise ConfigurationError("this Api has no API key to send to the workers")
        self.base_url = api.settings.base_url
        self._key = key

    def __repr__(self) -> str:
        return f"ApiKeyPlugin(base_url={self.base_url!r}, api_key=<hidden>)"

    __str__ = __repr__

    def setup(self, worker: Any) -> None:
        """Register the key in the worker's process."""
        register_api_key(self.base_url, self._key)
