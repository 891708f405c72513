"""Pure argument parsing: every malformed path or argument fails before any request."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.resources.base import PathParts, check_per_page, parse_path, split_object_path, split_project_path
from wandb_frames.resources.artifacts import ArtifactPath, parse_artifact_name
from wandb_frames.errors import ConfigurationError
from wandb_frames.resources.sweeps import format_order_key, swept_parameters

NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("e/p/data:v3", ArtifactPath("e", "p", "data", "v3")),
        ("p/data:latest", ArtifactPath("dflt", "p", "data", "latest")),
        ("data:best", ArtifactPath("dflt", "proj", "data", "best")),
        ("e/p/" + "a" * 32, ArtifactPath("e", "p", None, "a" * 32)),
        ("e/p/data:" + "b" * 32, ArtifactPath("e", "p", "data", "b" * 32)),
        ("data:alias/with/slash", ArtifactPath("dflt", "proj", "data", "alias/with/slash")),
    ],
)
def test_parse_artifact_name_forms(name: str, expected: ArtifactPath) -> None:
    assert parse_artifact_name(name, default_entity="dflt", default_project="proj") == expected


def test_parse_artifact_name_default_project_is_uncategorized() -> None:
    assert parse_artifact_name("data:v0", default_entity="e").project == "uncategorized"


@pytest.mark.parametrize(
    "name", ["", "   ", "a/b/c/d:v0", "e//data:v0", "data:", "data", "e/p/data", "/data:v0", 7, None]
)
def test_parse_artifact_name_rejects(name: object) -> None:
    with pytest.raises(ConfigurationError):
        parse_artifact_name(name, default_entity="e", default_project="p")


def test_parse_artifact_name_needs_entity() -> None:
    with pytest.raises(ConfigurationError, match="no entity"):
        parse_artifact_name("p/data:v0", default_entity=None)


@settings(max_examples=60, deadline=None)
@given(entity=NAME, project=NAME, collection=NAME, version=NAME)
def test_parse_artifact_name_roundtrip(entity: str, project: str, collection: str, version: str) -> None:
    parsed = parse_artifact_name(f"{entity}/{project}/{collection}:{version}", default_entity=None)
    assert parsed == ArtifactPath(entity, project, collection, version)
    assert parsed.query_name == f"{collection}:{version}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("e/p/s1", ("e", "p", "s1")),
        ("e/p/sweeps/s1", ("e", "p", "s1")),
        ("p/s1", ("dflt", "p", "s1")),
        ("s1", ("dflt", "proj", "s1")),
        ("/e/p/s1/", ("e", "p", "s1")),
    ],
)
def test_split_sweep_path(path: str, expected: tuple[str, str, str]) -> None:
    assert split_object_path(path, kind="sweep", default_entity="dflt", default_project="proj") == expected


@pytest.mark.parametrize("path", ["", "a/b/c/d", "e//s", "e/p/runs/x/y", 3])
def test_split_sweep_path_rejects(path: object) -> None:
    with pytest.raises(ConfigurationError):
        split_object_path(path, kind="sweep", default_entity="e", default_project="p")


def test_split_sweep_path_needs_project_and_entity() -> None:
    with pytest.raises(ConfigurationError, match="no project given"):
        split_object_path("s1", kind="sweep", default_entity="e", default_project=None)
    with pytest.raises(ConfigurationError, match="no entity given"):
        split_object_path("p/s1", kind="sweep", default_entity=None)


def test_split_project_path() -> None:
    assert split_project_path("e/p", default_entity=None) == ("e", "p")
    assert split_project_path("p", default_entity="d") == ("d", "p")
    assert split_project_path(None, default_entity="d", default_project="q") == ("d", "q")
    assert split_project_path("", default_entity="d", default_project="q") == ("d", "q")
    assert split_project_path(" e/p ", default_entity=None) == ("e", "p")
    assert split_project_path("/e/p/", default_entity=None) == ("e", "p")
    for bad in ("a/b/c", "e//p", "e/", "p", "e/p:x", None, 3):  # "e/" is project "e": no entity
        with pytest.raises(ConfigurationError):
            split_project_path(bad, default_entity=None)


@pytest.mark.parametrize(
    ("path", "kind", "expected"),
    [
        ("", "project", PathParts(None, None, None)),
        (None, "project", PathParts(None, None, None)),
        ("p", "project", PathParts(None, "p", None)),
        ("e/p", "project", PathParts("e", "p", None)),
        ("/e/p/", "project", PathParts("e", "p", None)),
        ("e/", "project", PathParts(None, "e", None)),
        ("https://wandb.ai/e/p", "project", PathParts("e", "p", None)),
        ("https://wandb.ai/e/p/", "project", PathParts("e", "p", None)),
        ("https://wandb.ai/e/p/workspace?nw=abc", "project", PathParts("e", "p", None)),
        ("https://wandb.ai/e/p/overview", "project", PathParts("e", "p", None)),
        ("http://localhost:8080/e/p/table#x", "project", PathParts("e", "p", None)),
        ("r1", "run", PathParts(None, None, "r1")),
        ("p/r1", "run", PathParts(None, "p", "r1")),
        ("e/p/r1", "run", PathParts("e", "p", "r1")),
        ("e/p/runs/r1", "run", PathParts("e", "p", "r1")),
        ("/e/p/runs/r1/", "run", PathParts("e", "p", "r1")),
        ("https://wandb.ai/e/p/runs/r1", "run", PathParts("e", "p", "r1")),
        ("https://wandb.ai/e/p/runs/r1?nw=x", "run", PathParts("e", "p", "r1")),
        ("https://wandb.ai/e/p/runs/r1/logs", "run", PathParts("e", "p", "r1")),
        ("https://wandb.ai/e/p/runs/r1/overview", "run", PathParts("e", "p", "r1")),
        ("e/p/sweeps/s1", "sweep", PathParts("e", "p", "s1")),
        ("https://wandb.ai/e/p/sweeps/s1", "sweep", PathParts("e", "p", "s1")),
        ("https://wandb.ai/e/p/sweeps/s1/table?x=1", "sweep", PathParts("e", "p", "s1")),
        ("e/p/data", "artifact", PathParts("e", "p", "data")),
        ("https://wandb.ai/e/p/logs", "run", PathParts("e", "p", "logs")),  # a tab only after /runs/<id>
    ],
)
def test_parse_path_forms(path: object, kind: str, expected: PathParts) -> None:
    assert parse_path(path, kind=kind) == expected


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("a/b/c", "project"), ("/a/b/c/", "project"), ("e//p", "project"), (3, "project"),
        ("", "run"), ("/", "run"), (None, "run"), ("a/b/c/d", "run"), ("e//r", "run"), ("e/p/sweeps/r1", "run"),
        ("e/p/runs/r1", "sweep"), ("e/p/r:1", "run"), ("https://wandb.ai/e/p/runs/r1/x/y", "run"),
        ("https://wandb.ai/", "run"), ("https://wandb.ai/e/p/runs/r1", "project"),
    ],
)
def test_parse_path_rejects(path: object, kind: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_path(path, kind=kind)


@settings(max_examples=60, deadline=None)
@given(entity=NAME, project=NAME, run_id=NAME, marker=st.booleans(), url=st.booleans())
def test_parse_path_roundtrip(entity: str, project: str, run_id: str, marker: bool, url: bool) -> None:
    path = f"{entity}/{project}/" + ("runs/" if marker else "") + run_id
    if url:
        path = "https://wandb.ai/" + path
    assert parse_path(path, kind="run") == PathParts(entity, project, run_id)
    assert split_object_path(path, kind="run", default_entity=None) == (entity, project, run_id)


@pytest.mark.parametrize("value", [0, -1, 10_001, 2.5, "50", True])
def test_per_page_rejects(value: object) -> None:
    with pytest.raises(ConfigurationError):
        check_per_page(value, default=50)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("loss", "-summary_metrics.loss"),
        ("+loss", "+summary_metrics.loss"),
        ("-val.acc", "-summary_metrics.val.acc"),
        ("+config.lr", "+config.lr"),
        ("summary_metrics.x", "-summary_metrics.x"),
        ("+createdAt", "+createdAt"),
    ],
)
def test_format_order_key(key: str, expected: str) -> None:
    assert format_order_key(key) == expected


def test_format_order_key_rejects_empty() -> None:
    with pytest.raises(ConfigurationError):
        format_order_key("+")


def test_swept_parameters_nested() -> None:
    config = {"parameters": {"lr": {"min": 0.1}, "opt": {"parameters": {"beta": {"values": [1]}, "eps": {}}}}}
    assert swept_parameters(config) == ["lr", "opt.beta", "opt.eps"]
    assert swept_parameters({}) == []


def test_parse_sweep_config_json_and_yaml() -> None:
    from wandb_frames.errors import ProtocolError
    from wandb_frames.resources.sweeps import parse_sweep_config

    assert parse_sweep_config('{"parameters": {"lr": {"min": 1e-06}}}') == {"parameters": {"lr": {"min": 1e-06}}}
    assert parse_sweep_config("method: grid\nparameters:\n  lr:\n    values: [0.1, 0.01]\n") == {
        "method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}
    assert parse_sweep_config("") == {}
    with pytest.raises(ProtocolError):
        parse_sweep_config("- a list")
