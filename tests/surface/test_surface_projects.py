"""Api.projects / Api.project against the local server."""

from __future__ import annotations

import pytest

from surface_support import ENTITY, OTHER_ENTITY, PROJECT, make_api, operations
from wandb_frames import Api
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.resources.projects import list_projects
from wandb_frames.testing import LocalServer


def _expected(server: LocalServer, entity: str) -> set[str]:
    return {p.name for p in server.store.projects.values() if p.entity == entity}


def test_projects_normal(api: Api, server: LocalServer) -> None:
    projects = api.projects(OTHER_ENTITY)
    assert operations(server) == []  # lazy until iterated
    (only,) = list(projects)
    assert (only.name, only.entity, only.run_count) == ("shared", OTHER_ENTITY, 1)
    assert only.url == f"{api.app_url}/team/shared/workspace"
    assert isinstance(only.created_at, str) and only.created_at.startswith("20")  # ISO text, as wandb
    assert operations(server) == ["ProjectsPage"]


def test_projects_paginates(api: Api, server: LocalServer) -> None:
    projects = api.projects(ENTITY, per_page=2)
    names = {p.name for p in projects}
    expected = _expected(server, ENTITY)
    assert names == expected and len(expected) >= 5
    pages = (len(expected) + 1) // 2
    assert operations(server) == ["ProjectsPage"] * pages
    list(projects)  # cached: no new request
    assert len(operations(server)) == pages


def test_projects_frame_types(api: Api) -> None:
    frame = api.projects(ENTITY, per_page=3).to_pandas()
    assert list(frame.columns) == ["id", "name", "entity", "created_at", "run_count", "is_benchmark",
                                   "description", "user", "url"]
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert str(frame["run_count"].dtype) == "int64"
    assert str(frame["is_benchmark"].dtype) == "bool"
    assert frame.set_index("name").loc[PROJECT, "run_count"] == 6


def test_projects_default_entity(server: LocalServer) -> None:
    """No entity: the viewer's default entity, asked of the server once."""
    api = make_api(server)
    server.clear_requests()
    assert {p.name for p in api.projects()} == _expected(server, ENTITY)
    assert operations(server)[0] != "ProjectsPage" and operations(server).count("ProjectsPage") == 1
    assert [p.name for p in make_api(server, entity=OTHER_ENTITY).projects()] == ["shared"]


def test_projects_no_entity_is_value_error(api: Api, server: LocalServer) -> None:
    """The module-level constructor with no entity and no default (the Api always has one)."""
    with pytest.raises(ValueError, match="entity must be passed"):
        list_projects(api, None, default_entity=None)
    assert operations(server) == []


@pytest.mark.parametrize(("entity", "per_page"), [("a/b", 10), ("", 10), ("ok", 0), ("ok", "x"), (5, 10)])
def test_projects_bad_arguments(api: Api, server: LocalServer, entity: object, per_page: object) -> None:
    with pytest.raises(ConfigurationError):
        api.projects(entity, per_page)  # type: ignore[arg-type]
    assert operations(server) == []


def test_projects_unknown_entity(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        list(api.projects("nobody-here"))
    assert info.value.what == "entity 'nobody-here'"


def test_project_get_and_not_found(api: Api, server: LocalServer) -> None:
    project = api.project(PROJECT, entity=ENTITY)
    assert (project.name, project.run_count) == (PROJECT, 6)
    assert operations(server) == ["ProjectByName"]
    with pytest.raises(NotFoundError) as info:
        api.project("missing", entity=ENTITY)
    assert info.value.what == "project 'local/missing'"
