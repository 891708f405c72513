"""Api.artifact, artifact_type(s), artifact_versions and a run's artifacts against the local server."""

from __future__ import annotations

import json

import pytest

from surface_support import ENTITY, PROJECT, HttpExecutor
from wandb_frames.artifacts import (
    RunRef,
    artifact_type,
    artifact_types,
    artifact_versions,
    get_artifact,
    logged_artifacts,
    parse_artifact_name,
    used_artifacts,
)
from wandb_frames.errors import ConfigurationError, NotFoundError


def _get(executor: HttpExecutor, name: str, type: str | None = None):  # type: ignore[no-untyped-def]
    return get_artifact(executor, parse_artifact_name(name, default_entity=ENTITY, default_project=PROJECT), type)


def test_artifact_by_version(executor: HttpExecutor) -> None:
    art = _get(executor, "local/surface/data:v1")
    assert (art.name, art.collection, art.version, art.type) == ("data:v1", "data", "v1", "dataset")
    assert (art.digest, art.size, art.description) == ("0" * 31 + "1", 101, "split 1")
    assert art.metadata == {"rows": 10, "source": {"name": "s3", "v": 1}}
    assert art.aliases == []
    assert art.qualified_name == "local/surface/data:v1"


def test_artifact_by_alias_and_logged_by(executor: HttpExecutor) -> None:
    best = _get(executor, "data:best")
    assert (best.version, best.aliases) == ("v2", ["best"])
    assert _get(executor, "surface/data:latest").version == "v4"
    assert best.logged_by() == RunRef(ENTITY, PROJECT, "sw-run-0")
    assert best.logged_by().path == "local/surface/sw-run-0"  # type: ignore[union-attr]


def test_artifact_type_check(executor: HttpExecutor) -> None:
    assert _get(executor, "weights:prod", type="model").type == "model"
    with pytest.raises(ConfigurationError, match="of type 'model'"):
        _get(executor, "weights:prod", type="dataset")


def test_artifact_by_digest(executor: HttpExecutor) -> None:
    """Both digest forms of the seed: ``name:<digest>`` and a bare ``<digest>``."""
    assert _get(executor, "data:" + "0" * 31 + "3").version == "v3"
    assert _get(executor, "f" * 32).collection == "weights"


def test_artifact_not_found(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError) as info:
        _get(executor, "data:v99")
    assert info.value.what == "artifact 'local/surface/data:v99'"
    with pytest.raises(NotFoundError) as info:
        _get(executor, "local/elsewhere/data:v0")
    assert info.value.what == "project 'local/elsewhere'"


@pytest.mark.parametrize("name", ["data", "a/b/c/d:v0", "data:", ""])
def test_artifact_bad_name_before_request(executor: HttpExecutor, name: str) -> None:
    with pytest.raises(ConfigurationError):
        _get(executor, name)
    assert executor.operations == []


def test_artifact_bad_type_before_request(executor: HttpExecutor) -> None:
    with pytest.raises(ConfigurationError):
        _get(executor, "data:v0", type="a/b")
    assert executor.operations == []


def test_artifact_versions_paginate_and_frame(executor: HttpExecutor) -> None:
    versions = artifact_versions(executor, ENTITY, PROJECT, "dataset", "data", per_page=2)
    frame = versions.to_pandas()
    assert executor.operations == ["ArtifactVersionsPage"] * 3
    assert list(frame["version"]) == ["v4", "v3", "v2", "v1", "v0"]
    assert list(frame["metadata.rows"]) == [40, 30, 20, 10, 0]
    assert str(frame["metadata.rows"].dtype) == "int64[pyarrow]"
    assert str(frame["created_at"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    assert frame.set_index("version").loc["v4", "aliases"] == ["latest"]
    assert list(frame["metadata.source.name"].unique()) == ["s3"]


def test_artifact_versions_not_found(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError) as info:
        list(artifact_versions(executor, ENTITY, PROJECT, "dataset", "nope"))
    assert info.value.what == "artifact collection 'nope' of type 'dataset' in 'local/surface'"
    with pytest.raises(NotFoundError) as info:
        list(artifact_versions(executor, ENTITY, PROJECT, "nosuchtype", "data"))
    assert info.value.what == "artifact type 'nosuchtype' in 'local/surface'"


@pytest.mark.parametrize(("type_name", "name", "per_page"), [("", "data", 5), ("dataset", "a/b", 5),
                                                            ("dataset", "data", 0), (None, "data", 5)])
def test_artifact_versions_bad_arguments(executor: HttpExecutor, type_name: object, name: str, per_page: int) -> None:
    with pytest.raises(ConfigurationError):
        artifact_versions(executor, ENTITY, PROJECT, type_name, name, per_page)  # type: ignore[arg-type]
    assert executor.operations == []


def test_artifact_types(executor: HttpExecutor) -> None:
    types = artifact_types(executor, PROJECT, default_entity=ENTITY, per_page=1)
    frame = types.to_pandas()
    assert sorted(frame["name"]) == ["dataset", "model"]
    assert executor.operations == ["ArtifactTypesPage"] * 2
    one = artifact_type(executor, "model", "local/surface", default_entity=None)
    assert (one.name, one.project) == ("model", PROJECT)


def test_artifact_types_not_found_and_bad(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError, match="artifact type 'nope'"):
        artifact_type(executor, "nope", PROJECT, default_entity=ENTITY)
    with pytest.raises(NotFoundError, match="project 'local/zzz'"):
        list(artifact_types(executor, "zzz", default_entity=ENTITY))
    executor.operations.clear()
    for bad in ("a/b/c", "e/"):
        with pytest.raises(ConfigurationError):
            artifact_types(executor, bad, default_entity=ENTITY)
    with pytest.raises(ConfigurationError):
        artifact_type(executor, "x:y", PROJECT, default_entity=ENTITY)
    assert executor.operations == []


def test_run_artifacts(executor: HttpExecutor) -> None:
    logged = logged_artifacts(executor, ENTITY, PROJECT, "sw-run-1", per_page=1)
    assert [a.name for a in logged] == ["weights:v0"]
    used = used_artifacts(executor, ENTITY, PROJECT, "sw-run-1", per_page=2)
    assert sorted(a.version for a in used) == ["v0", "v1", "v2", "v3", "v4"]
    assert executor.operations.count("RunUsedArtifactsPage") == 3
    frame = logged_artifacts(executor, ENTITY, PROJECT, "sw-run-0").to_pandas()
    assert len(frame) == 5 and "metadata.rows" in frame.columns


def test_run_artifacts_not_found(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError) as info:
        list(logged_artifacts(executor, ENTITY, PROJECT, "nope"))
    assert info.value.what == "run 'local/surface/nope'"
    with pytest.raises(ConfigurationError):
        used_artifacts(executor, ENTITY, PROJECT, "a/b")


def test_artifact_frame_json_columns(executor: HttpExecutor) -> None:
    """Metadata values that cannot share one Arrow type, and media dicts, become marked JSON text."""
    frame = artifact_versions(executor, ENTITY, PROJECT, "dataset", "mixed").to_pandas()
    assert list(frame["metadata.k"]) == ['"auto"', "1"]
    assert json.loads(frame["metadata.img"].iloc[1]) == {"_type": "image-file", "path": "a.png"}
    assert set(frame.attrs["wandb_frames"]["json_columns"]) == {"metadata.k", "metadata.img"}
