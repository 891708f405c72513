"""wandb-frames: Weights & Biases runs as typed Arrow tables and pandas DataFrames.

``Api`` mirrors ``wandb.Api``; ``local_runs`` reads offline ``wandb/`` folders; filters are
one Mongo-style language for the server, frames (``df.wb.where``) and parquet files.
"""

from __future__ import annotations

# Registers the ``df.wb`` pandas accessor (``df.wb.where(...)``, ``df.wb.sort(...)``).
import wandb_frames.filters.accessor  # noqa: F401
from wandb_frames.version import __version__
from wandb_frames.api import Api
from wandb_frames.resources.artifact_collections import ArtifactCollection, ArtifactCollections
from wandb_frames.resources.artifact_types import ArtifactType, ArtifactTypes
from wandb_frames.resources.artifacts import Artifact, Artifacts
from wandb_frames.cache.store import RunsCache
from wandb_frames.errors import (
    ApiError,
    AuthenticationError,
    CacheError,
    ConfigurationError,
    ExportError,
    FilterError,
    FilterSyntaxError,
    GraphQLError,
    HTTPStatusError,
    IncompleteResultError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    SchemaError,
    TransportError,
    UnknownKeyWarning,
    UnsupportedFeatureError,
    UnsupportedFilterError,
    WandbFramesError,
    WandbFramesWarning,
)
from wandb_frames.export import read_parquet, read_provenance, write_parquet
from wandb_frames.resources.files import File, Files
from wandb_frames.filters import Filter, FilterPlan, Order, parse_filter, parse_order
from wandb_frames.history import Histories
from wandb_frames.offline import LocalRuns, local_runs
from wandb_frames.resources.projects import Project, Projects
from wandb_frames.resources.reports import Report, Reports
from wandb_frames.resources.run import Run
from wandb_frames.resources.runs import Runs
from wandb_frames.resources.sweeps import Sweep, Sweeps
from wandb_frames.resources.compat import Summary, User

__all__ = [
    "Api",
    "ApiError",
    "Artifact",
    "ArtifactCollection",
    "ArtifactCollections",
    "ArtifactType",
    "ArtifactTypes",
    "Artifacts",
    "AuthenticationError",
    "CacheError",
    "ConfigurationError",
    "ExportError",
    "File",
    "Files",
    "Filter",
    "FilterError",
    "FilterPlan",
    "FilterSyntaxError",
    "GraphQLError",
    "HTTPStatusError",
    "Histories",
    "IncompleteResultError",
    "LocalRuns",
    "NotFoundError",
    "Order",
    "Project",
    "Projects",
    "ProtocolError",
    "RateLimitError",
    "Report",
    "Reports",
    "Run",
    "Runs",
    "RunsCache",
    "SchemaError",
    "Summary",
    "Sweep",
    "Sweeps",
    "TransportError",
    "UnknownKeyWarning",
    "UnsupportedFeatureError",
    "UnsupportedFilterError",
    "User",
    "WandbFramesError",
    "WandbFramesWarning",
    "__version__",
    "local_runs",
    "parse_filter",
    "parse_order",
    "read_parquet",
    "read_provenance",
    "write_parquet",
]
