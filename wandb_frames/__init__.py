"""wandb-frames: Weights & Biases runs as typed, Arrow-backed pandas DataFrames."""

from __future__ import annotations

from wandb_frames._version import __version__
from wandb_frames.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    FilterError,
    NotFoundError,
    WandbFramesError,
)

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "FilterError",
    "NotFoundError",
    "WandbFramesError",
    "__version__",
]
