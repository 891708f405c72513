"""``Run``: one W&B run with typed properties, built from a listing or fetched by path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from wandb_frames.cache.histories import history_cache_wrap, history_token
from wandb_frames.resources import artifacts, projects
from wandb_frames.resources import files as run_files
from wandb_frames.errors import NotFoundError, ProtocolError
from wandb_frames import history as run_history
from wandb_frames.errors import ConfigurationError
from wandb_frames.graphql import documents
from wandb_frames.graphql.records import METADATA_FILE, download_metadata, metadata_url
from wandb_frames.settings import app_url
from wandb_frames.tabular import (
    decode_run_node,
    decode_run_nodes,
    loads_wandb_json,
    table_to_pandas,
)

if TYPE_CHECKING:
    import pandas as pd

    from wandb_frames.resources.session import ApiSession

__all__ = ["Run"]

class Run:
    """One run. Properties are typed; heavy fields load with ONE ``Run`` query when needed.

    Args:
        api: The Api that fetched it.
        record: A decoded run (``tabular.decode_run_node``).
        full: Whether ``config``/``summary``/``system`` in ``record`` are complete (False for
            runs listed with a column projection; they then load on first access).
    """

    def __init__(self, api: ApiSession, record: Mapping[str, Any], *, full: bool = True) -> None:
        self._api = api
        self._record = dict(record)
        self._full = full
        self._metadata: dict[str, Any] | None = record.get("metadata")

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
        return cls(api, decode_run_node(node, entity=entity, project=project), full=True)

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self.state})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def load(self) -> None:
        """(Re)load every field with one ``Run`` query."""
        fresh = Run.fetch(self._api, self.entity, self.project, self.id)
        self._record = fresh._record
        self._full = True

    def _heavy(self, key: str) -> dict[str, Any]:
        if not self._full or key not in self._record:
            self.load()
        value = self._record.get(key)
        return value if isinstance(value, dict) else {}

    def _get(self, key: str) -> Any:
        return self._record.get(key)

    @property
    def id(self) -> str:
        """The run ID used in paths (GraphQL ``name``)."""
        return str(self._record["id"])

    @property
    def name(self) -> str | None:
        """The display name (GraphQL ``displayName``)."""
        value = self._get("name")
        return None if value is None else str(value)

    @name.setter
    def name(self, value: str | None) -> None:
        self._record["name"] = value

    @property
    def entity(self) -> str:
        """The entity."""
        return str(self._record["entity"])

    @property
    def project(self) -> str:
        """The project."""
        return str(self._record["project"])

    @property
    def path(self) -> str:
        """``"entity/project/run_id"``."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def url(self) -> str:
        """The run's page in the W&B UI."""
        root = app_url(self._api.settings.base_url)
        return f"{root}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def state(self) -> str | None:
        """``running``, ``finished``, ``crashed``, ``failed``, ``killed``, …"""
        value = self._get("state")
        return None if value is None else str(value)

    @property
    def created_at(self) -> datetime | None:
        """Creation time (UTC)."""
        value = self._get("created_at")
        return value if isinstance(value, datetime) else None

    @property
    def heartbeat_at(self) -> datetime | None:
        """Last heartbeat (UTC)."""
        value = self._get("heartbeat_at")
        return value if isinstance(value, datetime) else None

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
    def user(self) -> str | None:
        """The username of the run's owner."""
        return self._get("user")  # type: ignore[no-any-return]

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
    def summary(self) -> dict[str, Any]:
        """Summary metrics (a plain dict; media values keep their ``_type`` dicts)."""
        return self._heavy("summary")

    @property
    def system_metrics(self) -> dict[str, Any]:
        """System metrics."""
        return self._heavy("system")

    @property
    def metadata(self) -> dict[str, Any]:
        """The run's ``wandb-metadata.json`` (one ``RunFiles`` query and a GET, on first access)."""
        if self._metadata is None:
            op = documents.RUN_FILES.operation
            data = self._api.execute(
                documents.RUN_FILES,
                {"entity": self.entity, "project": self.project, "name": self.id,
                 "names": [METADATA_FILE], "first": 1},
            )
            node = (data.get("project") or {}).get("run")
            if node is None:
                raise NotFoundError(f"run {self.path} not found", operation=op, what=f"run {self.path}")
            self._metadata = download_metadata(self._api, metadata_url(node))
        return self._metadata

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain values (``config``, ``summary``, ``system_metrics`` loaded)."""
        return {
            "id": self.id,
            "name": self.name,
            "entity": self.entity,
            "project": self.project,
            "path": self.path,
            "url": self.url,
            "state": self.state,
            "created_at": self.created_at,
            "heartbeat_at": self.heartbeat_at,
            "duration": self.duration,
            "tags": self.tags,
            "group": self.group,
            "job_type": self.job_type,
            "sweep_name": self.sweep_name,
            "user": self.user,
            "host": self.host,
            "notes": self.notes,
            "commit": self.commit,
            "config": self.config,
            "summary": self.summary,
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
        self.load()

    def files(
        self, names: Sequence[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> run_files.Files:
        """The run's files (name, size, URL, …), lazily; ``pattern`` uses SQL LIKE syntax."""
        if isinstance(names, str):
            raise ConfigurationError(f"names must be a list of file names, got the string {names!r}")
        return run_files.list_files(
            self._api, self.entity, self.project, self.id,
            names=list(names) if names is not None else None, pattern=pattern, per_page=per_page,
        )

    def file(self, name: str) -> run_files.File:
        """One file of the run.

        Raises:
            NotFoundError: The run has no such file.
        """
        return run_files.get_file(self._api, self.entity, self.project, self.id, name)

    def logged_artifacts(self, per_page: int = 50) -> artifacts.Artifacts:
        """The artifacts this run logged (its outputs), lazily."""
        return artifacts.logged_artifacts(self._api, self.entity, self.project, self.id, per_page)

    def used_artifacts(self, per_page: int = 50) -> artifacts.Artifacts:
        """The artifacts this run used (its inputs), lazily."""
        return artifacts.used_artifacts(self._api, self.entity, self.project, self.id, per_page)

    # -- histories ----------------------------------------------------------------------
    def history_table(
        self,
        keys: Sequence[str] | None = None,
        samples: int | None = None,
        *,
        stream: run_history.Stream = "default",
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> pa.Table:
        """The run's history in long form: ``run_id, _step, metric, value, _timestamp, _runtime``.

        Args:
            keys: Only these metrics (rows holding *any* of them; never W&B's all-keys rule).
            samples: None for every row; a number for a deterministic min/max-bucket
                downsampling to at most that many points per metric.
            stream: ``"default"`` (training metrics) or ``"system"`` (CPU/GPU/memory).
            min_step: First step, inclusive.
            max_step: Last step, exclusive.

        Raises:
            ConfigurationError: Bad arguments (before any request).
        """
        if isinstance(keys, str):
            raise ConfigurationError(f"keys must be a list of metric names, got the string {keys!r}")
        if samples is not None and samples < 2:
            raise ConfigurationError(f"samples must be at least 2 (got {samples}); None means all")
        def fetch_one(run_id: str) -> run_history.LongPart:
            return run_history.fetch_run_long(
                self._api, run_history.parquet_getter(self._api), entity=self.entity, project=self.project,
                run_id=run_id, keys=list(keys) if keys is not None else None,
                min_step=min_step, max_step=max_step, stream=stream,
            )

        # With Api(cache=...), a finished run's history is kept on disk (docs/cache.md).
        wrap = history_cache_wrap(
            self._api, self.entity, self.project,
            lambda: {self.id: history_token(self.state, self.heartbeat_at)},
            stream=stream, keys=keys, min_step=min_step, max_step=max_step,
        )
        table = (fetch_one if wrap is None else wrap(fetch_one))(self.id).table
        if samples is not None:
            table = run_history.downsample_long(table, samples)
        return table

    def history(
        self,
        keys: Sequence[str] | None = None,
        samples: int | None = None,
        x_axis: str = "_step",
        stream: run_history.Stream = "default",
        *,
        format: Literal["wide", "long"] = "wide",
    ) -> pd.DataFrame:
        """The run's history as a frame: by default *every* row, one column per metric.

        Unlike ``wandb``'s ``Run.history`` (500 random rows per call), ``samples=None`` means
        the full history and a number means a deterministic downsampling (the same answer on
        every call; each bucket keeps its min and max). Sparse metrics are outer-joined by
        step (missing values are null), never dropped.

        Args:
            keys: Only these metrics.
            samples: None for all rows, or at most this many points per metric.
            x_axis: ``"_step"`` or ``"_timestamp"`` (the wide frame's row key).
            stream: ``"default"`` or ``"system"`` (system metrics, keyed by ``_timestamp``).
            format: ``"wide"`` (one column per metric) or ``"long"``.
        """
        if x_axis not in ("_step", "_timestamp"):
            raise ConfigurationError(f"x_axis must be '_step' or '_timestamp', got {x_axis!r}")
        if format not in ("wide", "long"):
            raise ConfigurationError(f"format must be 'wide' or 'long', got {format!r}")
        long = self.history_table(keys, samples, stream=stream)
        if format == "long":
            return table_to_pandas(long)
        index = "_timestamp" if stream == "system" else x_axis
        return table_to_pandas(run_history.long_to_wide(long, index=index))

    def system_metrics_history(self, samples: int | None = None) -> pd.DataFrame:
        """System metrics (CPU, GPU, memory, …) by ``_timestamp``, one column per metric."""
        return self.history(samples=samples, stream="system", x_axis="_timestamp")

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Iterate over every history row as a dict, in step order (``wandb`` parity).

        With ``keys``, each row is projected to ``_step`` plus those keys (``None`` where a
        row lacks one), as wandb 0.31.0 does. For analysis prefer :meth:`history` or
        :meth:`history_table`, which read the same data straight into Arrow.
        """
        if isinstance(keys, str):
            raise ConfigurationError(f"keys must be a list of metric names, got the string {keys!r}")
        return run_history.scan_history_rows(
            self._api, run_history.parquet_getter(self._api), entity=self.entity, project=self.project,
            run_id=self.id, keys=list(keys) if keys is not None else None,
            page_size=page_size, min_step=min_step, max_step=max_step,
        )
