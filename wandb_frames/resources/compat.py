"""Pieces that make the resource objects behave as ``wandb.apis.public``'s (wandb 0.31.0).

- :class:`Unsupported`: a class attribute standing for a ``wandb.Api`` member wandb-frames
  does not offer; using it raises :class:`~wandb_frames.errors.UnsupportedFeatureError`
  naming the member and the reason (never an ``AttributeError``).
- :class:`NotebookDisplay`: ``display()`` / ``to_html()`` / ``snake_to_camel()``, as on
  every ``wandb`` ``Attrs`` object.
- :class:`User`: ``run.user`` (``.name``, ``.username``).
- :class:`Summary`: ``run.summary``, a ``dict`` with ``wandb``'s ``_json_dict`` and
  attribute access (``run.summary.loss``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from wandb_frames.errors import UnsupportedFeatureError

__all__ = ["CLOUD_ONLY", "INTERNAL", "NotebookDisplay", "Summary", "Unsupported", "User", "WRITE"]

#: Reasons shared by many :class:`Unsupported` members.
CLOUD_ONLY = "W&B's cloud services (not part of the public GraphQL read API)"
WRITE = "wandb-frames is a read client: this write is not offered (see docs/migrating.md)"
INTERNAL = ("it is wandb's pagination plumbing; iterate, index or call len() on the collection, "
            "or use to_pandas()")


class Unsupported:
    """A ``wandb`` member that wandb-frames does not offer; reading it raises ``UnsupportedFeatureError``.

    On the class (``Run.console_logs``) the descriptor itself is returned, so introspection
    works; on an instance the error names ``Class.member`` and why.

    Args:
        reason: Why it is missing and what to use instead.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.name = "?"
        self.owner = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner.__name__
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        self.fail()

    def fail(self) -> NoReturn:
        feature = f"{self.owner}.{self.name}"
        raise UnsupportedFeatureError(
            f"{feature} (a wandb.Api feature) is not supported by wandb-frames: {self.reason}",
            feature=feature,
        )


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class NotebookDisplay:
    """``display()`` and ``to_html()`` as on ``wandb``'s objects (an iframe of ``self.url``)."""

    def snake_to_camel(self, string: str) -> str:
        """``"created_at"`` → ``"createdAt"`` (as ``wandb``'s ``Attrs.snake_to_camel``)."""
        camel = "".join(part.title() for part in string.split("_"))
        return camel[0].lower() + camel[1:]

    def to_html(self, height: int = 420, hidden: bool = False) -> str | None:
        """An ``<iframe>`` of the object's page in the W&B app (None when it has no page)."""
        url = getattr(self, "url", None)
        if not isinstance(url, str):
            return None
        style = f"border:none;width:100%;height:{height}px;" + ("display:none;" if hidden else "")
        src = url + "?jupyter=true"
        return f"<iframe src={src!r} style={style!r}></iframe>"

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """Show :meth:`to_html` in Jupyter; False (nothing shown) elsewhere, as ``wandb``."""
        if not _in_notebook():
            return False
        page = self.to_html(height, hidden)
        if page is None:
            return False
        from IPython import display as ipy_display

        ipy_display.display(ipy_display.HTML(page))  # type: ignore[no-untyped-call]
        return True


class User(NotebookDisplay):
    """A W&B user as ``run.user`` gives it: ``name`` and ``username``.

    Args:
        attrs: The GraphQL ``user`` object (``{"name": …, "username": …}``).
    """

    api_keys = Unsupported("API keys are account administration, served by " + CLOUD_ONLY)
    teams = Unsupported("team membership is account administration, served by " + CLOUD_ONLY)
    user_api = Unsupported("acting as another user is account administration, served by " + CLOUD_ONLY)
    create = Unsupported("creating users is account administration, served by " + CLOUD_ONLY)
    delete_api_key = Unsupported("API keys are account administration, served by " + CLOUD_ONLY)
    generate_api_key = Unsupported("API keys are account administration, served by " + CLOUD_ONLY)

    def __init__(self, attrs: Mapping[str, Any]) -> None:
        self._attrs = dict(attrs)

    @property
    def name(self) -> str | None:
        """The user's full name."""
        value = self._attrs.get("name")
        return None if value is None else str(value)

    @property
    def username(self) -> str | None:
        """The username."""
        value = self._attrs.get("username")
        return None if value is None else str(value)

    def __repr__(self) -> str:
        return f"<User {self.username or self.name}>"

    def to_html(self, *args: Any, **kwargs: Any) -> None:
        """None: a user has no page to embed (as ``wandb``)."""
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and other._attrs == self._attrs

    def __hash__(self) -> int:
        return hash((self.name, self.username))


class MissingSummaryKey(KeyError, AttributeError):
    """``run.summary.<name>`` for a key the summary lacks: a ``KeyError`` (as ``wandb``) that
    ``hasattr``/``getattr(..., default)`` also understand."""


class Summary(dict[str, Any]):
    """``run.summary``: a plain ``dict`` of the summary metrics, plus what ``wandb`` offers on it.

    ``summary["loss"]`` and ``summary.loss`` read a value; ``summary._json_dict`` is the dict
    itself (media values keep their ``_type`` dicts), as ``wandb``'s ``HTTPSummary``. Change
    values, then call ``run.update()`` to write them.
    """

    @property
    def _json_dict(self) -> dict[str, Any]:
        return self

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key not in self:
            raise MissingSummaryKey(key)
        return self[key]

    def load(self) -> None:
        """Kept for ``wandb`` parity: the summary is already loaded."""
