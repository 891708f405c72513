"""Sweeps: ``Api.sweep(path)``, a project's sweeps, and the sweep frame.

A sweep's runs come from the client core: constructors take a ``runs_factory(filters,
order)`` callback that returns the core's ``Runs`` (anything with ``to_pandas()`` and
iteration), so this module never imports it.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from wandb_frames.resources.base import (
    DEFAULT_APP_URL,
    Collection,
    check_datetime,
    check_name,
    check_per_page,
    dig,
    parse_datetime,
)
from wandb_frames.errors import ConfigurationError, ProtocolError, UnsupportedFeatureError
from wandb_frames.resources.compat import CLOUD_ONLY, WRITE, NotebookDisplay, Unsupported
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages, resolve_connection
from wandb_frames.tabular import flatten_run

__all__ = [
    "RunsFactory",
    "Sweep",
    "Sweeps",
    "format_order_key",
    "get_sweep",
    "list_sweeps",
    "sweep_frame",
    "swept_parameters",
]

_GET = DOCUMENTS["sweep_get.graphql"]
_LIST = DOCUMENTS["sweep_list.graphql"]

RunsFactory = Callable[[dict[str, Any], str | None], Any]
"""``runs_factory(filters, order) -> Runs``: the core's run listing for a filter and order."""

_RUN_COLUMNS = ("createdAt", "updatedAt", "name", "sweep")

_FRAME_SCHEMA: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "entity": pa.string(),
    "project": pa.string(),
    "state": pa.string(),
    "method": pa.string(),
    "metric": pa.string(),
    "goal": pa.string(),
    "best_loss": pa.float64(),
    "run_count": pa.int64(),
    "expected_run_count": pa.int64(),
    "created_at": pa.timestamp("us", tz="UTC"),
    "updated_at": pa.timestamp("us", tz="UTC"),
    "description": pa.string(),
    "url": pa.string(),
}


def format_order_key(key: str) -> str:
    """Normalise an order key as ``wandb`` does: a bare metric means ``summary_metrics.<metric>``.

    ``"loss"`` → ``"-summary_metrics.loss"``; ``"+config.lr"`` stays; the default direction
    is descending; ``createdAt``/``updatedAt``/``name``/``sweep`` are run columns.
    """
    if not isinstance(key, str) or not key.strip("+-"):
        raise ConfigurationError(f"invalid order {key!r}: expected e.g. '-summary_metrics.loss'")
    direction, body = ("-", key) if key[0] not in "+-" else (key[0], key[1:])
    parts = body.split(".")
    if len(parts) == 1 and body in _RUN_COLUMNS:
        return direction + body
    if parts[0] in ("config", "summary_metrics", "tags"):
        return direction + body
    return direction + "summary_metrics." + body


def parse_sweep_config(text: object) -> dict[str, Any]:
    """Decode a sweep's ``config`` (YAML text on W&B, JSON on some servers) into a dict."""
    if text is None or text == "":
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    if not isinstance(text, str):
        raise ProtocolError(f"sweep config is {type(text).__name__}, expected text")
    try:  # JSON first: PyYAML (YAML 1.1) would read a JSON ``1e-06`` as the string "1e-06"
        value = json.loads(text)
    except json.JSONDecodeError:
        import yaml  # type: ignore[import-untyped]  # W&B stores sweep configs as YAML

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ProtocolError("sweep config is neither YAML nor JSON") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"sweep config decodes to {type(value).__name__}, expected a mapping")
    return value


def swept_parameters(config: Mapping[str, Any], sep: str = ".") -> list[str]:
    """The dotted names of every swept parameter (nested ``parameters`` blocks flattened)."""
    names: list[str] = []

    def walk(params: Any, prefix: str) -> None:
        if not isinstance(params, Mapping):
            return
        for key, spec in params.items():
            name = f"{prefix}{key}"
            if isinstance(spec, Mapping) and isinstance(spec.get("parameters"), Mapping):
                walk(spec["parameters"], name + sep)
            else:
                names.append(name)

    walk(config.get("parameters"), "")
    return names


@dataclass(eq=False)
class Sweep(NotebookDisplay):
    """One W&B sweep, with the members of ``wandb``'s ``Sweep``.

    Attributes:
        id: The sweep ID (its GraphQL ``name``, used in paths).
        entity: Owning entity. project: Owning project.
        display_name: The user-edited name, if any.
        state: ``RUNNING``, ``FINISHED``, ... method: ``grid``, ``random``, ``bayes``.
        config: The sweep configuration (search space, metric, ...), decoded.
        best_loss: W&B's best metric value so far, if the server tracks it.
        run_count: Runs in the sweep. expected_run_count: ``None`` for unbounded sweeps.
        created_at, updated_at: As the server sent them (ISO text, as ``wandb``; typed in
        ``Sweeps.to_pandas()``). description: Free text. url: The sweep page.
        storage_id: The GraphQL ``id``.
    """

    id: str
    entity: str
    project: str
    display_name: str | None
    state: str | None
    method: str | None
    config: dict[str, Any]
    best_loss: float | None
    run_count: int | None
    expected_run_count: int | None
    created_at: str | None
    updated_at: str | None
    description: str | None
    url: str
    storage_id: str
    _runs_factory: RunsFactory | None = field(default=None, repr=False)
    _node: dict[str, Any] = field(default_factory=dict, repr=False)

    agent = Unsupported("sweep agents are served by " + CLOUD_ONLY)
    agents = Unsupported("sweep agents are served by " + CLOUD_ONLY)
    enqueue_run = Unsupported(WRITE)

    @classmethod
    def get(cls, api: Any, entity: str | None = None, project: str | None = None, sid: str | None = None,
            order: str | None = None, query: str | None = None, **kwargs: Any) -> Sweep:
        """``api.sweep("entity/project/sid")`` (``wandb``'s ``Sweep.get``; ``order``/``query`` not used)."""
        if query is not None:
            raise UnsupportedFeatureError(
                "Sweep.get(query=...) (a wandb.Api feature) is not supported by wandb-frames: "
                "it sends only its own GraphQL documents", feature="Sweep.get(query)")
        found = api.sweep("/".join(p for p in (entity, project, sid) if p))
        assert isinstance(found, Sweep)
        return found

    def load(self, force: bool = False) -> dict[str, Any]:
        """The sweep's fields as the server sent them (``wandb``'s ``Sweep.load``)."""
        return dict(self._node)

    @property
    def username(self) -> str:
        """Deprecated in ``wandb`` (it returns the entity): use ``entity``."""
        return self.entity

    @property
    def run_count_expected(self) -> int | None:
        """Same as :attr:`expected_run_count` (GraphQL ``runCountExpected``)."""
        return self.expected_run_count

    @property
    def name(self) -> str:
        """Display name, else the config's ``name``, else the id (as in ``wandb``)."""
        return self.display_name or str(self.config.get("name") or "") or self.id

    @property
    def path(self) -> list[str]:
        """``[entity, project, id]``."""
        return [self.entity, self.project, self.id]

    @property
    def metric(self) -> str | None:
        """The target metric's name from ``config["metric"]``, if any."""
        name = dig(self.config, "metric", "name")
        return str(name) if name is not None else None

    @property
    def goal(self) -> str | None:
        """``"minimize"`` or ``"maximize"`` when the config names a metric."""
        if self.metric is None:
            return None
        return str(dig(self.config, "metric", "goal") or "minimize")

    @property
    def parameters(self) -> list[str]:
        """Dotted names of the swept parameters (see :func:`swept_parameters`)."""
        return swept_parameters(self.config)

    @property
    def order(self) -> str | None:
        """The order that ranks the best run first (from the metric and goal), if known."""
        if self.metric is None:
            return None
        return format_order_key(("+" if self.goal == "minimize" else "-") + self.metric)

    @property
    def runs(self) -> Any:
        """The sweep's runs, as the core's ``Runs`` (oldest first), fetched lazily."""
        return self._factory()({"$and": [{"sweep": self.id}]}, "+created_at")

    def best_run(self, order: str | None = None) -> Any:
        """The best run by ``order`` (default: the sweep metric and goal), or ``None``.

        Unlike ``wandb``, a run whose target value is missing, null or NaN (a diverged or
        failed run) is never the best run. With no order and no metric in the config,
        returns the most recent run.
        """
        key = format_order_key(order) if order is not None else self.order
        runs = self._factory()({"$and": [{"sweep": self.id}]}, key or "-created_at")
        target = key[1:] if key else None
        for run in runs:
            if target is None or _has_value(run, target):
                return run
        return None

    def to_pandas(self) -> pd.DataFrame:
        """The runs of the sweep, one row each: run columns, every swept parameter, the metric.

        Ready for a parallel-coordinates plot or a parameter-importance fit.
        """
        return sweep_frame(self.runs.to_pandas(), self)

    def to_dict(self) -> dict[str, Any]:
        """The sweep as one frame row (its config flattened under ``config.``)."""
        row = {key: getattr(self, key) for key in _FRAME_SCHEMA}
        row["created_at"] = parse_datetime(self.created_at)
        row["updated_at"] = parse_datetime(self.updated_at)
        row.update(flatten_run({"config": self.config}))
        return row

    def _factory(self) -> RunsFactory:
        if self._runs_factory is None:
            raise ConfigurationError("this Sweep was built without a runs_factory; its runs are unavailable")
        return self._runs_factory


def _has_value(run: Any, key: str) -> bool:
    """Whether ``run`` holds a real (non-null, non-NaN) value at an order key's path."""
    section, _, rest = key.partition(".")
    if section not in ("summary_metrics", "config") or not rest:
        return True
    source = run.summary_metrics if section == "summary_metrics" else run.config
    value = source.get(rest, _MISSING)
    if value is _MISSING:
        value = dig(source, *rest.split("."))
    if value is None or value is _MISSING:
        return False
    return not (isinstance(value, float) and math.isnan(value))


_MISSING = object()


def sweep_frame(runs: pd.DataFrame, sweep: Sweep, sep: str = ".") -> pd.DataFrame:
    """Select, from a runs frame, the run id/name/state, each swept parameter and the metric.

    Parameter columns are ``config.<param>``; the metric column is ``summary.<metric>``.
    A parameter or metric that no run logged is still a column (all null), so every sweep
    frame of one sweep has the same columns.
    """
    wanted = [c for c in ("id", "name", "state", "created_at") if c in runs.columns]
    wanted += [f"config{sep}{p}" for p in swept_parameters(sweep.config, sep)]
    if sweep.metric is not None:
        wanted.append(f"summary{sep}{sweep.metric}")
    frame = runs.reindex(columns=list(dict.fromkeys(wanted)))
    for column in frame.columns:
        if column not in runs.columns:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)  # as a null column
    return frame


def _sweep(
    node: Mapping[str, Any], entity: str, project: str, app_url: str, factory: RunsFactory | None
) -> Sweep:
    try:
        sweep_id = str(node["name"])
        quoted = "/".join(urllib.parse.quote_plus(p) for p in (entity, project))
        return Sweep(
            id=sweep_id,
            entity=entity,
            project=project,
            display_name=node.get("displayName"),
            state=node.get("state"),
            method=node.get("method"),
            config=parse_sweep_config(node.get("config")),
            best_loss=node.get("bestLoss"),
            run_count=node.get("runCount"),
            expected_run_count=node.get("runCountExpected"),
            created_at=check_datetime(node.get("createdAt")),
            updated_at=check_datetime(node.get("updatedAt")),
            description=node.get("description"),
            url=f"{app_url.rstrip('/')}/{quoted}/sweeps/{urllib.parse.quote_plus(sweep_id)}",
            storage_id=str(node["id"]),
            _runs_factory=factory,
            _node=dict(node),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"sweep record lacks a field: {exc}") from exc


def get_sweep(
    executor: Executor,
    entity: str,
    project: str,
    sweep_id: str,
    runs_factory: RunsFactory | None = None,
    *,
    app_url: str = DEFAULT_APP_URL,
) -> Sweep:
    """Fetch one sweep (``Api.sweep``); split the user's path with ``split_object_path`` first.

    Raises:
        NotFoundError: the project or the sweep does not exist (``what`` names it).
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    sweep_id = check_name(sweep_id, "sweep id")
    data = executor.execute(_GET, {"entity": entity, "project": project, "name": sweep_id})
    _, node = resolve_connection(
        data, ("project", "sweep"), operation=_GET.operation,
        what=[f"project {entity + '/' + project!r}", f"sweep {entity + '/' + project + '/' + sweep_id!r}"],
    )
    return _sweep(node, entity, project, app_url, runs_factory)


class Sweeps(Collection[Sweep]):
    """The sweeps of one project: iterable; ``to_pandas()`` gives one row per sweep (config flattened)."""

    schema = _FRAME_SCHEMA
    entity: str = ""
    project: str = ""
    per_page: int = 50


def list_sweeps(
    executor: Executor,
    entity: str,
    project: str,
    per_page: int | None = 50,
    runs_factory: RunsFactory | None = None,
    *,
    app_url: str = DEFAULT_APP_URL,
) -> Sweeps:
    """The sweeps of a project (``Project.sweeps()``), one request per page on first use.

    Raises:
        NotFoundError: (on first use) the project does not exist.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    size = check_per_page(per_page, default=50)

    def fetch() -> Iterator[Sweep]:
        for page in iter_pages(
            executor.execute, _LIST, {"entity": entity, "project": project},
            connection_path=("project", "sweeps"), what=f"project {entity + '/' + project!r}",
            page_size=size, size_variable="perPage", cursor_variable="cursor",
        ):
            for node in page.nodes:
                yield _sweep(node, entity, project, app_url, runs_factory)

    listing = Sweeps(fetch)
    listing.entity, listing.project, listing.per_page = entity, project, size
    return listing
