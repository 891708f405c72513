"""Connection settings: API key, base URL, default entity/project and timeouts.

Resolution order (the same sources ``wandb.Api`` reads):

| setting | order |
| --- | --- |
| API key | ``api_key=`` argument → ``WANDB_API_KEY`` → ``~/.netrc`` (or ``$NETRC``) entry for the base URL's host |
| base URL | ``overrides["base_url"]`` → ``WANDB_BASE_URL`` → ``https://api.wandb.ai`` |
| entity / project | ``overrides["entity"]`` / ``overrides["project"]`` → ``WANDB_ENTITY`` / ``WANDB_PROJECT`` |
| timeout (per HTTP attempt, seconds) | ``timeout=`` → ``WANDB_HTTP_TIMEOUT`` → 30 |

The resolved :class:`Settings` is frozen, and its ``repr`` never shows the key.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wandb_frames.version import __version__
from wandb_frames.errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "Settings",
    "app_url",
    "netrc_api_key",
    "resolve_settings",
]

DEFAULT_BASE_URL = "https://api.wandb.ai"
DEFAULT_TIMEOUT = 30.0
DEFAULT_USER_AGENT = f"wandb-frames/{__version__}"
_OVERRIDE_KEYS = frozenset({"base_url", "entity", "project"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved connection settings (immutable; the key is hidden from ``repr``).

    Attributes:
        base_url: The W&B API root without a trailing slash, e.g. ``https://api.wandb.ai``.
        api_key: The API key, or None when none was found (requests then fail with
            ``ConfigurationError``).
        entity: Default entity for paths without one, or None (then the viewer's entity).
        project: Default project for paths without one, or None.
        timeout: Seconds allowed for one HTTP attempt.
        user_agent: The ``User-Agent`` header value.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False, compare=False)
    entity: str | None = None
    project: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    user_agent: str = DEFAULT_USER_AGENT

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return (
            f"Settings(base_url={self.base_url!r}, api_key=<{key}>, entity={self.entity!r}, "
            f"project={self.project!r}, timeout={self.timeout!r}, user_agent={self.user_agent!r})"
        )

    __str__ = __repr__

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint, ``{base_url}/graphql``."""
        return f"{self.base_url}/graphql"


def _normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base URL {url!r} is not an http(s) URL; set overrides={{'base_url': 'https://…'}} "
            "or WANDB_BASE_URL"
        )
    return url


def _parse_timeout(value: Any, source: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{source} must be a number of seconds, got {value!r}") from exc
    if not seconds > 0:
        raise ConfigurationError(f"{source} must be positive, got {value!r}")
    return seconds


def netrc_api_key(base_url: str, *, path: str | os.PathLike[str] | None = None) -> str | None:
    """Return the password of the ``.netrc`` entry for ``base_url``'s host, or None.

    Args:
        base_url: The W&B base URL; its host (without port, then with port) is looked up.
        path: The netrc file; default ``$NETRC`` or ``~/.netrc``.

    Returns:
        The key, or None when the file or the entry is missing or unreadable.
    """
    if path is None:
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
    file = Path(path)
    if not file.is_file():
        return None
    try:
        entries = netrc.netrc(str(file))
    except (netrc.NetrcParseError, OSError):
        return None
    parts = urlsplit(base_url)
    for host in (parts.hostname, parts.netloc):
        if not host:
            continue
        auth = entries.authenticators(host)
        if auth is not None and auth[2]:
            return auth[2]
    return None


def resolve_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    timeout: float | None = None,
    user_agent: str | None = None,
    environ: Mapping[str, str] | None = None,
    netrc_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings from arguments, ``overrides``, the environment and ``~/.netrc``.

    Args:
        overrides: May set ``base_url``, ``entity`` and ``project``.
        api_key: An explicit API key (highest priority).
        timeout: Seconds per HTTP attempt.
        user_agent: The ``User-Agent`` header; default ``wandb-frames/<version>``.
        environ: The environment to read (default ``os.environ``).
        netrc_path: The netrc file to read (default ``$NETRC`` or ``~/.netrc``).

    Returns:
        The frozen :class:`Settings`.

    Raises:
        ConfigurationError: An unknown override key, a malformed base URL or timeout.
    """
    env = os.environ if environ is None else environ
    over = dict(overrides or {})
    unknown = sorted(set(over) - _OVERRIDE_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown overrides {unknown}; supported: {sorted(_OVERRIDE_KEYS)}"
        )
    base_url = _normalise_base_url(
        str(over.get("base_url") or env.get("WANDB_BASE_URL") or DEFAULT_BASE_URL)
    )
    if timeout is not None:
        seconds = _parse_timeout(timeout, "timeout")
    elif env.get("WANDB_HTTP_TIMEOUT"):
        seconds = _parse_timeout(env["WANDB_HTTP_TIMEOUT"], "WANDB_HTTP_TIMEOUT")
    else:
        seconds = DEFAULT_TIMEOUT
    key = api_key or env.get("WANDB_API_KEY") or None
    if key is None:
        if netrc_path is None and environ is not None:
            netrc_path = environ.get("NETRC")
        key = netrc_api_key(base_url, path=netrc_path)
    if key is not None:
        key = key.strip() or None
    return Settings(
        base_url=base_url,
        api_key=key,
        entity=over.get("entity") or env.get("WANDB_ENTITY") or None,
        project=over.get("project") or env.get("WANDB_PROJECT") or None,
        timeout=seconds,
        user_agent=user_agent or DEFAULT_USER_AGENT,
    )


def app_url(base_url: str) -> str:
    """Return the web UI root for ``base_url`` (``api.wandb.ai`` → ``wandb.ai``)."""
    parts = urlsplit(base_url)
    host = parts.netloc
    if host.startswith("api."):
        host = host[len("api.") :]
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")
