"""Progress bars for long fetches: on in notebooks and terminals, off otherwise.

Precedence: an explicit ``progress=True/False`` → ``WANDB_FRAMES_PROGRESS``
(``1/true/on`` or ``0/false/off``) → automatic (a Jupyter kernel, or stderr is a TTY).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol

__all__ = ["ProgressBar", "in_notebook", "make_progress", "progress_enabled"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ProgressBar(Protocol):
    """What callers use of a tqdm bar."""

    total: Any

    def update(self, n: int = 1) -> Any:
        """Advance by ``n``."""

    def close(self) -> None:
        """Finish the bar."""


class _NoProgress:
    """A progress bar that shows nothing."""

    def __init__(self, total: int | None = None) -> None:
        self.total = total

    def update(self, n: int = 1) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


def in_notebook() -> bool:
    """Whether we run inside a Jupyter (ZMQ) kernel."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    ip = get_ipython() if callable(get_ipython) else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress_enabled(progress: bool | None = None) -> bool:
    """Decide whether to show a progress bar.

    Args:
        progress: An explicit choice; None means environment, then automatic.

    Returns:
        True to show a bar.
    """
    if progress is not None:
        return bool(progress)
    env = os.environ.get("WANDB_FRAMES_PROGRESS", "").strip().lower()
    if env in _TRUE:
        return True
    if env in _FALSE:
        return False
    if in_notebook():
        return True
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def _has_widgets() -> bool:
    """Whether notebook widget bars can be drawn (``ipywidgets``, the ``notebook`` extra); without
    it tqdm would warn and print text, so a text bar is used from the start."""
    import importlib.util

    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False


def make_progress(
    total: int | None, *, desc: str, unit: str = "run", progress: bool | None = None
) -> ProgressBar:
    """Return a tqdm bar (notebook-aware) or a silent stand-in.

    Args:
        total: The expected count (None when unknown).
        desc: Label shown before the bar.
        unit: The counted thing.
        progress: See :func:`progress_enabled`.
    """
    if not progress_enabled(progress):
        return _NoProgress(total)
    import tqdm

    factory: Any = tqdm.tqdm
    if in_notebook() and _has_widgets():
        import tqdm.notebook

        factory = tqdm.notebook.tqdm
    bar: ProgressBar = factory(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    return bar
