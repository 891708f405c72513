"""A local, W&B-compatible GraphQL server for tests, demos and benchmarks.

``LocalServer`` serves W&B's public GraphQL API over real HTTP from seeded records
(:mod:`wandb_frames.testing.records`); ``python -m wandb_frames.testing serve`` runs it in
the foreground.
"""

from __future__ import annotations

from wandb_frames.testing.faults import Faults
from wandb_frames.testing.churn import ChurnEvent, ListingChurn, RandomChurn, RunsChange
from wandb_frames.testing.mongo import ServerFilterError
from wandb_frames.testing.network import Network, RateLimit, TrafficStats
from wandb_frames.testing.records import ArtifactRecord, ReportRecord, RunRecord, RunState, SweepRecord
from wandb_frames.testing.routes import Echo, Redirect
from wandb_frames.testing.server import LocalServer
from wandb_frames.testing.synthetic import (
    iter_synthetic_runs,
    synthetic_artifacts,
    synthetic_project,
    synthetic_reports,
    synthetic_sweeps,
)

__all__ = [
    "ArtifactRecord",
    "ChurnEvent",
    "Echo",
    "Faults",
    "ListingChurn",
    "LocalServer",
    "Network",
    "RandomChurn",
    "RateLimit",
    "Redirect",
    "ReportRecord",
    "RunRecord",
    "RunState",
    "RunsChange",
    "ServerFilterError",
    "SweepRecord",
    "TrafficStats",
    "iter_synthetic_runs",
    "synthetic_artifacts",
    "synthetic_project",
    "synthetic_reports",
    "synthetic_sweeps",
]
