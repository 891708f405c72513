"""Reports: ``Api.reports(path, name, per_page)`` (beta in W&B, and so here).

Warning:
    W&B marks ``wandb.Api.reports()`` as beta: the report ``spec`` format and the
    ``allViews`` query may change in future server releases. The same caveat applies here.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from wandb_frames.resources.base import (
    DEFAULT_APP_URL,
    Collection,
    check_datetime,
    check_name,
    check_per_page,
    dig,
    parse_datetime,
    parse_json_string,
)
from wandb_frames.errors import ConfigurationError, ProtocolError
from wandb_frames.resources.compat import NotebookDisplay, Unsupported
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages

__all__ = ["Report", "Reports", "list_reports", "report_url"]

_LIST = DOCUMENTS["report_list.graphql"]

_FRAME_SCHEMA: dict[str, pa.DataType] = {
    "id": pa.string(),
    "name": pa.string(),
    "display_name": pa.string(),
    "description": pa.string(),
    "user": pa.string(),
    "created_at": pa.timestamp("us", tz="UTC"),
    "updated_at": pa.timestamp("us", tz="UTC"),
    "entity": pa.string(),
    "project": pa.string(),
    "url": pa.string(),
    "spec": pa.string(),
}


def report_url(app_url: str, entity: str, project: str, display_name: str | None, report_id: str) -> str | None:
    """The report page URL as the W&B app builds it (``<title-slug>--<id>``); ``None`` without a title."""
    if not display_name or not report_id:
        return None
    slug = urllib.parse.quote(re.sub(r"-+", "-", re.sub(r"\W", "-", display_name)).strip("-"))
    return f"{app_url.rstrip('/')}/{entity}/{project}/reports/{slug}--{report_id.replace('=', '')}"


@dataclass(frozen=True)
class Report(NotebookDisplay):
    """One report (beta), with the members of ``wandb``'s ``BetaReport``.

    Attributes:
        id: Storage id. name: Internal view name. display_name: The title.
        description: Free text. username: Author's username. email: Author's email, if visible.
        created_at, updated_at: As the server sent them (ISO text, as ``wandb``; typed in
        ``Reports.to_pandas()``). spec: The report document (decoded JSON).
        entity, project: Where it lives. url: The report page.
    """

    id: str
    name: str | None
    display_name: str | None
    description: str | None
    username: str | None
    email: str | None
    created_at: str | None
    updated_at: str | None
    spec: dict[str, Any]
    entity: str
    project: str
    url: str | None
    _user: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    runs = Unsupported("a report section's run-set filters are not translated; "
                       "use api.runs(path, filters=...) with the same filters")
    query_generator = Unsupported("it is wandb's internal filter translator")

    @property
    def user(self) -> dict[str, Any] | None:
        """The author as the server sent it (``{"username", "photoUrl", "email"}``), as ``wandb``."""
        return None if self._user is None else dict(self._user)

    @property
    def sections(self) -> Any:
        """The report's panel groups (``spec["panelGroups"]``), as ``wandb``."""
        return self.spec["panelGroups"]

    def to_html(self, height: int = 1024, hidden: bool = False) -> str | None:
        """An ``<iframe>`` of the report (``wandb``'s default height is 1024)."""
        if self.url is None:
            return "<div>Report URL not available</div>"
        return super().to_html(height, hidden)

    @property
    def title(self) -> str | None:
        """Alias of ``display_name``."""
        return self.display_name

    def to_dict(self) -> dict[str, Any]:
        """The report as one frame row; ``spec`` as compact JSON text."""
        row = {key: getattr(self, key) for key in _FRAME_SCHEMA if key not in ("spec", "user")}
        row["user"] = self.username
        row["created_at"] = parse_datetime(self.created_at)
        row["updated_at"] = parse_datetime(self.updated_at)
        row["spec"] = json.dumps(self.spec, sort_keys=True, separators=(",", ":"))
        return row


class Reports(Collection[Report]):
    """The reports of a project: iterable; ``to_pandas()`` gives one row per report (``spec`` as JSON text)."""

    schema = _FRAME_SCHEMA

    def __init__(self, executor: Executor, entity: str, project: str, name: str | None,
                 per_page: int, app_url: str) -> None:
        self.entity, self.project, self.name, self.per_page = entity, project, name, per_page
        super().__init__(lambda: _iter_reports(executor, entity, project, name, per_page, app_url))


def _report(node: Mapping[str, Any], entity: str, project: str, app_url: str) -> Report:
    try:
        spec = parse_json_string(node.get("spec"), "report spec") or {}
        report_id = str(node["id"])
        return Report(
            id=report_id,
            name=node.get("name"),
            display_name=node.get("displayName"),
            description=node.get("description"),
            username=dig(node, "user", "username"),
            email=dig(node, "user", "email"),
            created_at=check_datetime(node.get("createdAt")),
            updated_at=check_datetime(node.get("updatedAt")),
            spec=spec if isinstance(spec, dict) else {"value": spec},
            entity=entity,
            project=project,
            url=report_url(app_url, entity, project, node.get("displayName"), report_id),
            _user=node.get("user"),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"report record lacks a field: {exc}") from exc


def _iter_reports(executor: Executor, entity: str, project: str, name: str | None,
                  per_page: int, app_url: str) -> Iterator[Report]:
    variables = {"entity": entity, "project": project, "viewName": name}
    for page in iter_pages(
        executor.execute, _LIST, variables, connection_path=("project", "allViews"),
        what=f"project {entity + '/' + project!r}", page_size=per_page,
        size_variable="perPage", cursor_variable="cursor",
    ):
        for node in page.nodes:
            yield _report(node, entity, project, app_url)


def list_reports(
    executor: Executor,
    entity: str,
    project: str,
    name: str | None = None,
    per_page: int | None = 50,
    *,
    app_url: str = DEFAULT_APP_URL,
) -> Reports:
    """The reports of a project (``Api.reports``, beta); fetched on first use.

    ``name`` (URL-quoted or not) keeps only the report with that internal name; no match
    is an empty collection, as in ``wandb``.

    Raises:
        ConfigurationError: bad arguments (before any request).
        NotFoundError: (on first use) the project does not exist.
    """
    entity, project = check_name(entity, "entity"), check_name(project, "project")
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"report name must be a non-empty string, got {name!r}")
        name = urllib.parse.unquote(name)
    return Reports(executor, entity, project, name, check_per_page(per_page, default=50), app_url)
