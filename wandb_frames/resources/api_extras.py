"""The rest of ``wandb.Api``'s public methods (wandb 0.31.0), as a mixin of :class:`~wandb_frames.api.Api`.

Artifact look-ups (``artifacts``, ``artifact_exists``, ``artifact_collection(s)``, …) and
``from_path`` are answered; the administration, automation, registry, launch and team
members raise :class:`~wandb_frames.errors.UnsupportedFeatureError` naming them.
"""

from __future__ import annotations

from typing import Any

from wandb_frames.errors import ConfigurationError, NotFoundError, UnsupportedFeatureError
from wandb_frames.resources.base import parse_path
from wandb_frames.resources.compat import CLOUD_ONLY, WRITE, Unsupported

__all__ = ["ApiExtras"]

_ADMIN = "account administration is served by " + CLOUD_ONLY
_AUTOMATION = "automations and integrations are served by " + CLOUD_ONLY
_REGISTRY = "registries and organizations are served by " + CLOUD_ONLY
_LAUNCH = "W&B Launch (jobs and run queues) is served by " + CLOUD_ONLY


def _no_paging_options(feature: str, **given: Any) -> None:
    used = [name for name, value in given.items() if value]
    if used:
        raise UnsupportedFeatureError(
            f"{feature}({', '.join(f'{u}=...' for u in used)}) (a wandb.Api feature) is not supported by "
            "wandb-frames: filter or sort the result's to_pandas() instead", feature=f"{feature}({', '.join(used)})")


class ApiExtras:
    """``wandb.Api`` members beyond the core listing methods (mixed into ``Api``)."""

    # provided by Api
    def artifact(self, name: str, type: str | None = None) -> Any:
        raise NotImplementedError

    def artifact_type(self, type_name: str, project: str | None = None) -> Any:
        raise NotImplementedError

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> Any:
        raise NotImplementedError

    def run(self, path: str = "") -> Any:
        raise NotImplementedError

    def sweep(self, path: str = "") -> Any:
        raise NotImplementedError

    def project(self, name: str, entity: str | None = None) -> Any:
        raise NotImplementedError

    automation = Unsupported(_AUTOMATION)
    automations = Unsupported(_AUTOMATION)
    create_automation = Unsupported(_AUTOMATION)
    update_automation = Unsupported(_AUTOMATION)
    delete_automation = Unsupported(_AUTOMATION)
    integrations = Unsupported(_AUTOMATION)
    slack_integrations = Unsupported(_AUTOMATION)
    webhook_integrations = Unsupported(_AUTOMATION)
    create_custom_chart = Unsupported(WRITE)
    create_project = Unsupported(WRITE)
    create_registry = Unsupported(_REGISTRY)
    registries = Unsupported(_REGISTRY)
    registry = Unsupported(_REGISTRY)
    organization = Unsupported(_REGISTRY)
    create_team = Unsupported(_ADMIN)
    team = Unsupported(_ADMIN)
    create_user = Unsupported(_ADMIN)
    user = Unsupported(_ADMIN)
    users = Unsupported(_ADMIN)
    job = Unsupported(_LAUNCH)
    list_jobs = Unsupported(_LAUNCH)
    queued_run = Unsupported(_LAUNCH)
    run_queue = Unsupported(_LAUNCH)
    create_run_queue = Unsupported(_LAUNCH)
    upsert_run_queue = Unsupported(_LAUNCH)
    sync_tensorboard = Unsupported("it uploads TensorBoard logs (a write done by the wandb SDK)")

    def artifacts(self, type_name: str, name: str, order: str | None = None, per_page: int = 50,
                  tags: list[str] | None = None, start: str | None = None) -> Any:
        """The versions of one artifact collection (``artifact_versions``), as ``wandb``'s ``Api.artifacts``.

        Raises:
            UnsupportedFeatureError: ``order``, ``tags`` or ``start`` given.
        """
        _no_paging_options("Api.artifacts", order=order, tags=tags, start=start)
        return self.artifact_versions(type_name, name, per_page)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether ``artifact(name, type)`` exists (one request), as ``wandb``."""
        try:
            self.artifact(name, type)
        except NotFoundError:
            return False
        return True

    def _split_collection(self, name: str) -> tuple[str, str]:
        parts = name.split("/")
        if len(parts) != 3:
            raise ConfigurationError(f"collection name {name!r} must look like 'entity/project/collection'")
        return f"{parts[0]}/{parts[1]}", parts[2]

    def artifact_collection(self, type_name: str, name: str) -> Any:
        """One collection by ``"entity/project/collection"`` (as ``wandb``).

        Raises:
            NotFoundError: no such project, type or collection.
        """
        project, collection = self._split_collection(name)
        return self.artifact_type(type_name, project).collection(collection)

    def artifact_collection_exists(self, name: str, type: str) -> bool:
        """Whether :meth:`artifact_collection` finds it, as ``wandb``."""
        try:
            self.artifact_collection(type, name)
        except NotFoundError:
            return False
        return True

    def artifact_collections(self, project_name: str, type_name: str, order: str | None = None,
                             per_page: int = 50, start: str | None = None) -> Any:
        """The collections of one artifact type in a project, as ``wandb``.

        Raises:
            UnsupportedFeatureError: ``order`` or ``start`` given.
        """
        _no_paging_options("Api.artifact_collections", order=order, start=start)
        return self.artifact_type(type_name, project_name).collections(per_page=per_page)

    def from_path(self, path: str) -> Any:
        """A run, sweep or project from its path or app URL (``…/runs/<id>``, ``…/sweeps/<id>``), as ``wandb``.

        Raises:
            ConfigurationError: the path names none of them.
        """
        text = path.strip()
        for kind in ("run", "sweep"):
            if f"/{kind}s/" in text:
                return self.run(text) if kind == "run" else self.sweep(text)
        parts = parse_path(text.split("?")[0], kind="project")
        if parts.project is None:
            raise ConfigurationError(f"cannot tell what {path!r} names: expected a run, sweep or project path")
        return self.project(parts.project, parts.entity)
