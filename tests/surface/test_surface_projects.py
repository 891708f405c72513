"""Api.projects / Api.project against the local server."""

from __future__ import annotations

import pytest

from surface_support import ENTITY, OTHER_ENTITY, PROJECT, HttpExecutor
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.projects import get_project, list_projects
from wandb_frames.testing import LocalServer


def _expected(server: LocalServer, entity: str) -> set[str]:
    return {p.name for p in server.store.projects.values() if p.entity == entity}


def test_projects_normal(executor: HttpExecutor, server: LocalServer) -> None:
    projects = list_projects(executor, OTHER_ENTITY, app_url="http://app.test/")
    assert executor.operations == []  # lazy until iterated
    (only,) = list(projects)
    assert (only.name, only.entity, only.run_count) == ("shared", OTHER_ENTITY, 1)
    assert only.url == "http://app.test/team/shared/workspace"
    assert only.created_at is not None and only.created_at.tzinfo is not None


def test_projects_paginates(executor: HttpExecutor, server: LocalServer) -> None:
    projects = list_projects(executor, ENTITY, per_page=2)
    names = {p.name for p in projects}
    expected = _expected(server, ENTITY)
    assert names == expected and len(expected) >= 5
    assert executor.operations == ["ProjectsPage"] * ((len(expected) + 1) // 2)
    list(projects)  # cached: no new request
    assert len(executor.operations) == (len(expected) + 1) // 2


def test_projects_frame_types(executor: HttpExecutor) -> None:
    frame = list_projects(executor, ENTITY, per_page=3).to_pandas()
    assert list(frame.columns[:4]) == ["id", "name", "entity", "created_at"]
    assert str(frame["created_at"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    assert str(frame["run_count"].dtype) == "int64[pyarrow]"
    assert frame.set_index("name").loc[PROJECT, "run_count"] == 6


def test_projects_default_entity(executor: HttpExecutor) -> None:
    assert [p.name for p in list_projects(executor, None, default_entity=OTHER_ENTITY)] == ["shared"]


def test_projects_no_entity_is_value_error(executor: HttpExecutor) -> None:
    with pytest.raises(ValueError, match="entity must be passed"):
        list_projects(executor, None, default_entity=None)
    assert executor.operations == []


@pytest.mark.parametrize(("entity", "per_page"), [("a/b", 10), ("", 10), ("ok", 0), ("ok", "x"), (5, 10)])
def test_projects_bad_arguments(executor: HttpExecutor, entity: object, per_page: object) -> None:
    with pytest.raises(ConfigurationError):
        list_projects(executor, entity, per_page)  # type: ignore[arg-type]
    assert executor.operations == []


def test_projects_unknown_entity(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError) as info:
        list(list_projects(executor, "nobody-here"))
    assert info.value.what == "entity 'nobody-here'"


def test_project_get_and_not_found(executor: HttpExecutor) -> None:
    project = get_project(executor, ENTITY, PROJECT)
    assert (project.name, project.run_count) == (PROJECT, 6)
    with pytest.raises(NotFoundError) as info:
        get_project(executor, ENTITY, "missing")
    assert info.value.what == "project 'local/missing'"


def test_core_api_is_an_executor(server: LocalServer) -> None:
    """The client core's ``Api.execute`` drives these constructors unchanged (wiring check)."""
    from wandb_frames.api import Api

    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
    assert [p.name for p in list_projects(api, OTHER_ENTITY, per_page=1)] == ["shared"]
    with pytest.raises(NotFoundError):
        get_project(api, ENTITY, "missing")
