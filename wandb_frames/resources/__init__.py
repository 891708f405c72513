"""The objects that mirror ``wandb.Api``'s: runs, projects, sweeps, artifacts, files, reports.

Layer: below :mod:`wandb_frames.api` (which builds them), above :mod:`wandb_frames.cache`,
:mod:`wandb_frames.history` and :mod:`wandb_frames.graphql`. They never import ``Api``: they
send requests through the narrow :class:`~wandb_frames.resources.session.Session` protocol.
"""

from __future__ import annotations

from wandb_frames.resources.artifact_collections import ArtifactCollection, ArtifactCollections
from wandb_frames.resources.artifact_types import ArtifactType, ArtifactTypes
from wandb_frames.resources.artifacts import Artifact, Artifacts
from wandb_frames.resources.files import File, Files
from wandb_frames.resources.projects import Project, Projects
from wandb_frames.resources.reports import Report, Reports
from wandb_frames.resources.run import Run
from wandb_frames.resources.runs import Runs
from wandb_frames.resources.sweeps import Sweep, Sweeps

__all__ = [
    "Artifact",
    "ArtifactCollection",
    "ArtifactCollections",
    "ArtifactType",
    "ArtifactTypes",
    "Artifacts",
    "File",
    "Files",
    "Project",
    "Projects",
    "Report",
    "Reports",
    "Run",
    "Runs",
    "Sweep",
    "Sweeps",
]
