"""``Run``: one W&B run, with ``wandb`` 0.31.0's attributes, built from a listing or fetched by path.

Attributes answer as ``wandb.apis.public.Run``'s do (``created_at`` is the server's ISO
string, ``path`` a list, ``user`` a :class:`~wandb_frames.resources.compat.User`,
``summary`` a dict with ``_json_dict``); the typed values (timestamps as timestamps) are in
the frames (``Runs.to_pandas()``) and in :meth:`Run.to_dict`.

Why this module is long: ``Run`` mirrors every member of wandb's ``Run`` (its history lives in
:mod:`~wandb_frames.resources.run_history`, compatibility objects in
:mod:`~wandb_frames.resources.compat`); what is left is one attribute or method per member.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.graphql import documents
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.records import METADATA_FILE, download_metadata, metadata_url
from wandb_frames.resources import artifacts, projects
from wandb_frames.resources import files as run_files
from wandb_frames.resources.compat import CLOUD_ONLY, WRITE, NotebookDisplay, Summary, Unsupported, User
from wandb_frames.resources.run_history import RunHistory
from wandb_frames.settings import app_url
from wandb_frames.tabular import decode_run_node

if TYPE_CHECKING:
    from wandb_frames.resources.session import ApiSession

__all__ = ["Run", "WIRE_FIELDS"]

_STATE = DOCUMENTS["run_state.graphql"]

#: Run fields kept as the server sent them (``wandb`` returns them untouched).
WIRE_FIELDS = ("id", "projectId", "createdAt", "heartbeatAt", "description", "readOnly",
               "historyLineCount", "historyKeys", "user")
_FULL_ONLY = ("id", "projectId", "description", "readOnly", "historyLineCount")


def wire_fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`WIRE_FIELDS` of a GraphQL run node, as sent."""
    return {key: node[key] for key in WIRE_FIELDS if key in node}


class Run(RunHistory, NotebookDisplay):
    """One run, with the attributes and methods of ``wandb``'s ``Run``.

    Heavy fields (``config``, ``summary``, …) load with ONE ``Run`` query when needed.

    Args:
        api: The Api that fetched it.
        record: A decoded run (``tabular.decode_run_node``).
        full: Whether ``config``/``summary``/``system`` in ``record`` are complete (False for
            runs listed with a column projection; they then load on first access).
        wire: Run fields as the server sent them (see :data:`WIRE_FIELDS`).
    """

    console_logs = Unsupported("console logs are served by " + CLOUD_ONLY + "; read run.file('output.log')")
    download_history_exports = Unsupported(
        "use run.history(format='wide') / run.history_table() (typed) or Runs.history_frames()")
    delete = Unsupported(WRITE)
    update_state = Unsupported(WRITE)
    stop = Unsupported(WRITE)
    upload_file = Unsupported(WRITE)
    log_artifact = Unsupported(WRITE)
    use_artifact = Unsupported(WRITE)
    server_provides_internal_id_field = Unsupported("it is wandb's internal bookkeeping")

    def __init__(self, api: ApiSession, record: Mapping[str, Any], *, full: bool = True,
                 wire: Mapping[str, Any] | None = None) -> None:
        self._api = api
        self._record = dict(record)
        self._full = full
        self._wire: dict[str, Any] = dict(wire or {})
        self._metadata: dict[str, Any] | None = record.get("metadata")
        self._summary: Summary | None = None
        self._sweep: Any = None

    @classmethod
    def fetch(cls, api: ApiSession, entity: str, project: str, run_id: str) -> Run:
        """Fetch one run with every field.

        Raises:
            NotFoundError: The project or the run does not exist.
        """
        op = documents.RUN.operation
        data = api.execute(documents.RUN, {"entity": entity, "project": project, "name": run_id})
        project_node = data.get("project")
        if project_node is None:
            what = f"project {entity}/{project}"
            raise NotFoundError(f"{what} not found", operation=op, what=what)
        node = project_node.get("run")
        if node is None:
            what = f"run {entity}/{project}/{run_id}"
            raise NotFoundError(f"{what} not found", operation=op, what=what)
        return cls(api, decode_run_node(node, entity=entity, project=project), full=True, wire=wire_fields(node))

    @classmethod
    def create(cls, api: Any, run_id: str | None = None, project: str | None = None,
               entity: str | None = None, state: Literal["running", "pending"] = "running") -> Run:
        """Create a run on the server (as ``wandb``'s ``Run.create``; see ``Api.create_run``)."""
        created = api.create_run(run_id=run_id, project=project, entity=entity, state=state)
        assert isinstance(created, Run)
        return created

    def __repr__(self) -> str:
        return f"<Run {self._where} ({self.state})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other._where == self._where

    def __hash__(self) -> int:
        return hash(self._where)

    def load(self, force: bool = False) -> dict[str, Any]:
        """(Re)load every field with one ``Run`` query; returns the run's fields in ``wandb``'s shape.

        Without ``force``, a run whose fields are all loaded is not fetched again.
        """
        if force or not self._full or not all(k in self._wire for k in _FULL_ONLY):
            fresh = Run.fetch(self._api, self.entity, self.project, self.id)
            self._record = fresh._record
            self._wire.update(fresh._wire)
            self._full = True
            self._summary = None
        return self._attrs()

    def load_full_data(self, force: bool = False) -> dict[str, Any]:
        """Load every field (``wandb``'s name for :meth:`load` on lazily listed runs)."""
        return self.load(force=force)

    def _attrs(self) -> dict[str, Any]:
        """The run's fields keyed as ``wandb``'s ``Run._attrs``."""
        return {
            "projectId": self._wire_get("projectId"), "id": self.storage_id, "tags": self.tags,
            "name": self.id, "displayName": self.name, "sweepName": self.sweep_name, "state": self.state,
            "config": self.config, "group": self.group, "jobType": self.job_type, "commit": self.commit,
            "readOnly": self.read_only, "createdAt": self.created_at, "heartbeatAt": self.heartbeat_at,
            "description": self.description, "notes": self.notes, "systemMetrics": self.system_metrics,
            "summaryMetrics": self.summary_metrics, "historyLineCount": self.history_line_count,
            "user": dict(self.user._attrs) if self.user is not None else None,
            "historyKeys": self._wire.get("historyKeys"), "rawconfig": self.rawconfig,
        }

    def _heavy(self, key: str) -> dict[str, Any]:
        if not self._full or key not in self._record:
            self.load(force=True)
        value = self._record.get(key)
        return value if isinstance(value, dict) else {}

    def _get(self, key: str) -> Any:
        return self._record.get(key)

    def _wire_get(self, key: str) -> Any:
        """A field as the server sent it, loading the full run once when the listing lacked it."""
        if key not in self._wire:
            self.load(force=True)
        return self._wire.get(key)

    def _heartbeat_datetime(self) -> datetime | None:
        value = self._get("heartbeat_at")
        return value if isinstance(value, datetime) else None

    @property
    def id(self) -> str:
        """The run ID used in paths (GraphQL ``name``)."""
        return str(self._record["id"])

    @property
    def storage_id(self) -> str:
        """The run's storage ID (GraphQL ``id``), as ``wandb``."""
        return str(self._wire_get("id"))

    @property
    def project_id(self) -> str | None:
        """The project's internal ID (GraphQL ``projectId``), as ``wandb``'s ``run.project_id``."""
        value = self._wire_get("projectId")
        return None if value is None else str(value)

    @property
    def name(self) -> str | None:
        """The display name (GraphQL ``displayName``)."""
        value = self._get("name")
        return None if value is None else str(value)

    @name.setter
    def name(self, value: str | None) -> None:
        self._record["name"] = value

    @property
    def display_name(self) -> str | None:
        """The display name (``wandb``'s ``run.display_name``; same as :attr:`name`)."""
        return self.name

    @property
    def entity(self) -> str:
        """The entity."""
        return str(self._record["entity"])

    @property
    def project(self) -> str:
        """The project."""
        return str(self._record["project"])

    @property
    def path(self) -> list[str]:
        """``[entity, project, run_id]`` (URL-quoted), as ``wandb``; ``"/".join(run.path)`` for text."""
        return [urllib.parse.quote(part, safe="") for part in (self.entity, self.project, self.id)]

    @property
    def _where(self) -> str:
        return "/".join(self.path)

    @property
    def url(self) -> str:
        """The run's page in the W&B UI."""
        root = app_url(self._api.settings.base_url)
        entity, project, run_id = self.path
        return f"{root}/{entity}/{project}/runs/{run_id}"

    @property
    def dir(self) -> str:
        """Where ``wandb`` would download this run's files: ``$WANDB_DIR`` (or the temp dir)/entity/project/id."""
        return os.path.join(os.environ.get("WANDB_DIR") or tempfile.gettempdir(), *self.path)

    @property
    def state(self) -> str | None:
        """``running``, ``finished``, ``crashed``, ``failed``, ``killed``, …"""
        value = self._get("state")
        return None if value is None else str(value)

    @property
    def created_at(self) -> str | None:
        """Creation time as the server sent it (ISO text, as ``wandb``); typed in the frames."""
        if "createdAt" not in self._wire and isinstance(self._get("created_at"), datetime):
            self.load(force=True)
        value = self._wire.get("createdAt")
        return None if value is None else str(value)

    @property
    def heartbeat_at(self) -> str | None:
        """Last heartbeat as the server sent it (ISO text, as ``wandb``); typed in the frames."""
        if "heartbeatAt" not in self._wire and isinstance(self._get("heartbeat_at"), datetime):
            self.load(force=True)
        value = self._wire.get("heartbeatAt")
        return None if value is None else str(value)

    @property
    def duration(self) -> float | None:
        """Compute seconds."""
        value = self._get("duration")
        return None if value is None else float(value)

    @property
    def tags(self) -> list[str]:
        """Tags (empty list when none); assign a new list, then :meth:`update`."""
        tags = self._record.get("tags")
        if not isinstance(tags, list):
            tags = list(tags or ())
            self._record["tags"] = tags
        return tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._record["tags"] = list(value)

    @property
    def group(self) -> str | None:
        """The run group."""
        return self._get("group")  # type: ignore[no-any-return]

    @group.setter
    def group(self, value: str | None) -> None:
        self._record["group"] = value

    @property
    def job_type(self) -> str | None:
        """The job type."""
        return self._get("job_type")  # type: ignore[no-any-return]

    @job_type.setter
    def job_type(self, value: str | None) -> None:
        self._record["job_type"] = value

    @property
    def sweep_name(self) -> str | None:
        """The sweep's name (ID), or None."""
        return self._get("sweep")  # type: ignore[no-any-return]

    @property
    def sweep(self) -> Any:
        """The run's :class:`~wandb_frames.resources.sweeps.Sweep` (one request, then kept), or None."""
        if self._sweep is None and self.sweep_name:
            self._sweep = self._api.sweep(f"{self.entity}/{self.project}/{self.sweep_name}")
        return self._sweep

    @property
    def user(self) -> User | None:
        """The run's owner: ``.username`` and ``.name`` (as ``wandb``'s ``run.user``)."""
        if "user" not in self._wire:
            username = self._get("user")
            if username is None and "user" in self._record:
                return None
            self._wire["user"] = {"username": username} if username is not None else None
        node = self._wire.get("user")
        if node is None:
            return None
        if "name" not in node:
            self.load(force=True)
            node = self._wire.get("user") or node
        return User(node)

    @property
    def username(self) -> str:
        """Deprecated in ``wandb`` (it returns the entity): use :attr:`entity`."""
        return self.entity

    @property
    def host(self) -> str | None:
        """The machine the run ran on."""
        return self._get("host")  # type: ignore[no-any-return]

    @property
    def notes(self) -> str | None:
        """The run's notes."""
        return self._get("notes")  # type: ignore[no-any-return]

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._record["notes"] = value

    @property
    def description(self) -> str | None:
        """The run's description (as ``wandb``; W&B's older name for notes)."""
        value = self._wire_get("description")
        return None if value is None else str(value)

    @property
    def read_only(self) -> bool | None:
        """Whether the run is read-only (GraphQL ``readOnly``)."""
        value = self._wire_get("readOnly")
        return None if value is None else bool(value)

    @property
    def history_line_count(self) -> int | None:
        """How many history rows the run logged (GraphQL ``historyLineCount``)."""
        value = self._wire_get("historyLineCount")
        return None if value is None else int(value)

    @property
    def commit(self) -> str | None:
        """The git commit."""
        return self._get("commit")  # type: ignore[no-any-return]

    @property
    def config(self) -> dict[str, Any]:
        """User config, unwrapped from ``{"value", "desc"}``; internal keys excluded."""
        return self._heavy("config")

    @property
    def internal_config(self) -> dict[str, Any]:
        """W&B's internal config keys (``_wandb``, ``wandb_version``), kept apart."""
        self._heavy("config")
        value = self._record.get("config_internal")
        return value if isinstance(value, dict) else {}

    @property
    def rawconfig(self) -> dict[str, Any]:
        """The internal keys then the user config, in one dict (as ``wandb``'s ``run.rawconfig``)."""
        return {**self.internal_config, **self.config}

    @property
    def json_config(self) -> str:
        """The config as W&B stores it (``{"key": {"value": …, "desc": None}}``), JSON text."""
        wrapped: dict[str, Any] = {}
        if "_wandb" in self.internal_config:
            wrapped["_wandb"] = {"value": self.internal_config["_wandb"], "desc": None}
        for key, value in self.config.items():
            wrapped[key] = {"value": value, "desc": None}
        return json.dumps(wrapped)

    @property
    def summary(self) -> Summary:
        """Summary metrics: a dict (``summary["loss"]``, ``summary.loss``, ``summary._json_dict``).

        Media values keep their ``_type`` dicts. Change values, then call :meth:`update`.
        """
        data = self._heavy("summary")
        if self._summary is None:
            self._summary = Summary(data)
            self._record["summary"] = self._summary
        return self._summary

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The summary metrics as a plain dict (``wandb``'s ``run.summary_metrics``)."""
        return dict(self.summary)

    @property
    def system_metrics(self) -> dict[str, Any]:
        """System metrics."""
        return self._heavy("system")

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The run's ``wandb-metadata.json`` (one ``RunFiles`` query and a GET, on first access).

        None when the run has no metadata file, as ``wandb``.
        """
        if self._metadata is None:
            op = documents.RUN_FILES.operation
            data = self._api.execute(
                documents.RUN_FILES,
                {"entity": self.entity, "project": self.project, "name": self.id,
                 "names": [METADATA_FILE], "first": 1},
            )
            node = (data.get("project") or {}).get("run")
            if node is None:
                raise NotFoundError(f"run {self._where} not found", operation=op, what=f"run {self._where}")
            url = metadata_url(node)
            if url is None:
                return None
            self._metadata = download_metadata(self._api, url)
        return self._metadata

    def wait_until_finished(self) -> None:
        """Poll the run's state every 5 seconds until it is finished, crashed or failed (as ``wandb``)."""
        while True:
            state = self._run_node(_STATE).get("state")
            if state in ("finished", "crashed", "failed"):
                self._record["state"] = state
                return
            time.sleep(5)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain typed values (timestamps as datetimes; ``config``, ``summary`` loaded)."""
        return {
            "id": self.id,
            "name": self.name,
            "entity": self.entity,
            "project": self.project,
            "path": self._where,
            "url": self.url,
            "state": self.state,
            "created_at": self._get("created_at"),
            "heartbeat_at": self._heartbeat_datetime(),
            "duration": self.duration,
            "tags": self.tags,
            "group": self.group,
            "job_type": self.job_type,
            "sweep_name": self.sweep_name,
            "user": self._get("user"),
            "host": self.host,
            "notes": self.notes,
            "commit": self.commit,
            "config": self.config,
            "summary": dict(self.summary),
            "system_metrics": self.system_metrics,
        }

    # -- writes and related objects -------------------------------------------------------
    def update(self) -> None:
        """Write this run's editable fields back to the server, as ``wandb``'s ``Run.update``.

        Change ``run.config[...]``, ``run.summary[...]``, ``run.tags``, ``run.notes``,
        ``run.name``, ``run.group`` or ``run.job_type`` first. ``config`` and ``summary``
        replace the stored dicts; W&B's internal config keys are kept.

        Raises:
            NotFoundError: The run no longer exists.
            ConfigurationError: A field holds a value W&B cannot store.
        """
        config, summary = self.config, self.summary
        projects.update_run(
            self._api, self.entity, self.project, self.id,
            config=config, summary=summary, tags=self.tags, notes=self.notes,
            display_name=self.name, group=self.group, job_type=self.job_type,
        )
        self.load(force=True)

    def save(self) -> None:
        """Same as :meth:`update` (``wandb``'s ``Run.save``)."""
        self.update()

    def files(
        self, names: Sequence[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> run_files.Files:
        """The run's files (name, size, URL, …), lazily; ``pattern`` uses SQL LIKE syntax."""
        if isinstance(names, str):
            raise ConfigurationError(f"names must be a list of file names, got the string {names!r}")
        return run_files.list_files(
            self._api, self.entity, self.project, self.id,
            names=list(names) if names is not None else None, pattern=pattern, per_page=per_page, run=self,
        )

    def file(self, name: str) -> run_files.File:
        """One file of the run.

        Raises:
            NotFoundError: The run has no such file.
        """
        return run_files.get_file(self._api, self.entity, self.project, self.id, name, run=self)

    def logged_artifacts(self, per_page: int = 100) -> artifacts.Artifacts:
        """The artifacts this run logged (its outputs), lazily."""
        return artifacts.logged_artifacts(self._api, self.entity, self.project, self.id, per_page)

    def used_artifacts(self, per_page: int = 100) -> artifacts.Artifacts:
        """The artifacts this run used (its inputs), lazily."""
        return artifacts.used_artifacts(self._api, self.entity, self.project, self.id, per_page)
