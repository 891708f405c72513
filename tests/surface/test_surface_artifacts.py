"""Api.artifact, artifact_type(s), artifact_versions and a run's artifacts against the local server."""

from __future__ import annotations

import json

import pytest

from surface_support import ENTITY, PROJECT, make_api, operations
from wandb_frames import Api
from wandb_frames.resources.artifacts import RunRef
from wandb_frames.errors import ConfigurationError, LossyConversionWarning, NotFoundError
from wandb_frames.testing import LocalServer

FULL = f"{ENTITY}/{PROJECT}"


def test_artifact_by_version(api: Api, server: LocalServer) -> None:
    art = api.artifact(f"{FULL}/data:v1")
    assert operations(server) == ["ArtifactMembership"]
    assert (art.name, art.collection, art.version, art.type) == ("data:v1", "data", "v1", "dataset")
    assert (art.digest, art.size, art.description) == ("0" * 31 + "1", 101, "split 1")
    assert art.metadata == {"rows": 10, "source": {"name": "s3", "v": 1}}
    assert art.aliases == []
    assert art.qualified_name == "local/surface/data:v1"


def test_artifact_by_alias_and_logged_by(server: LocalServer) -> None:
    api = make_api(server, entity=ENTITY, project=PROJECT)
    best = api.artifact("data:best")
    assert (best.version, best.aliases) == ("v2", ["best"])
    assert api.artifact("surface/data:latest").version == "v4"
    server.clear_requests()
    assert best.logged_by_ref() == RunRef(ENTITY, PROJECT, "sw-run-0")
    assert best.logged_by_ref().path == "local/surface/sw-run-0"  # type: ignore[union-attr]
    assert operations(server) == ["ArtifactLoggedBy"]  # asked once, then kept
    run = best.logged_by()  # a Run, as wandb
    assert run is not None and run.id == "sw-run-0" and run.path == [ENTITY, PROJECT, "sw-run-0"]


def test_artifact_type_check(api: Api) -> None:
    assert api.artifact(f"{FULL}/weights:prod", type="model").type == "model"
    with pytest.raises(ConfigurationError, match="of type 'model'"):
        api.artifact(f"{FULL}/weights:prod", type="dataset")


def test_artifact_by_digest(api: Api, server: LocalServer) -> None:
    """Both digest forms of the seed: ``name:<digest>`` and a bare ``<digest>``."""
    assert api.artifact(f"{FULL}/data:" + "0" * 31 + "3").version == "v3"
    assert api.artifact(f"{FULL}/" + "f" * 32).collection == "weights"
    assert operations(server) == ["ArtifactMembership", "ArtifactByProjectName"]


def test_artifact_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        api.artifact(f"{FULL}/data:v99")
    assert info.value.what == "artifact 'local/surface/data:v99'"
    with pytest.raises(NotFoundError) as info:
        api.artifact("local/elsewhere/data:v0")
    assert info.value.what == "project 'local/elsewhere'"


@pytest.mark.parametrize("name", ["data", "a/b/c/d:v0", "data:", ""])
def test_artifact_bad_name_before_request(server: LocalServer, name: str) -> None:
    api = make_api(server, entity=ENTITY, project=PROJECT)
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        api.artifact(name)
    assert operations(server) == []


def test_artifact_bad_type_before_request(api: Api, server: LocalServer) -> None:
    with pytest.raises(ConfigurationError):
        api.artifact(f"{FULL}/data:v0", type="a/b")
    assert operations(server) == []


def test_artifact_versions_paginate_and_frame(api: Api, server: LocalServer) -> None:
    versions = api.artifact_versions("dataset", f"{FULL}/data", per_page=2)
    frame = versions.to_pandas()
    assert operations(server) == ["ArtifactVersionsPage"] * 3
    assert list(frame["version"]) == ["v4", "v3", "v2", "v1", "v0"]
    assert list(frame.columns[:3]) == ["name", "collection", "version"]
    assert list(frame.columns[-3:]) == ["metadata.rows", "metadata.source.name", "metadata.source.v"]
    assert list(frame["metadata.rows"]) == [40, 30, 20, 10, 0]
    # NumPy columns by default (docs/frames.md, "pandas frames"); lists are tuples.
    assert str(frame["metadata.rows"].dtype) == "int64"
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert str(frame["aliases"].dtype) == "object"
    assert frame.set_index("version").loc["v4", "aliases"] == ("latest",)
    assert list(frame["metadata.source.name"].unique()) == ["s3"]


def test_artifact_versions_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        list(api.artifact_versions("dataset", f"{FULL}/nope"))
    assert info.value.what == "artifact collection 'nope' of type 'dataset' in 'local/surface'"
    with pytest.raises(NotFoundError) as info:
        list(api.artifact_versions("nosuchtype", f"{FULL}/data"))
    assert info.value.what == "artifact type 'nosuchtype' in 'local/surface'"
    with pytest.raises(NotFoundError) as info:
        list(api.artifact_versions("dataset", f"{ENTITY}/nowhere/data"))
    assert info.value.what == "project 'local/nowhere'"


@pytest.mark.parametrize(("type_name", "name", "per_page"), [("", f"{FULL}/data", 5), ("dataset", "e/p/a/b", 5),
                                                            ("dataset", f"{FULL}/data", 0),
                                                            (None, f"{FULL}/data", 5)])
def test_artifact_versions_bad_arguments(api: Api, server: LocalServer, type_name: object, name: str,
                                         per_page: int) -> None:
    with pytest.raises(ConfigurationError):
        api.artifact_versions(type_name, name, per_page)  # type: ignore[arg-type]
    assert operations(server) == []


def test_artifact_types(api: Api, server: LocalServer) -> None:
    frame = api.artifact_types(FULL).to_pandas()
    assert sorted(frame["name"]) == ["dataset", "model"]
    assert list(frame.columns) == ["id", "name", "description", "created_at", "entity", "project"]
    assert operations(server) == ["ArtifactTypesPage"]
    one = api.artifact_type("model", FULL)
    assert (one.name, one.project) == ("model", PROJECT)


def test_artifact_types_paginate(api: Api, server: LocalServer) -> None:
    """``Api.artifact_types`` has no page size; the module function's ``per_page`` still pages."""
    from wandb_frames.resources.artifact_types import artifact_types

    assert sorted(t.name for t in artifact_types(api, FULL, default_entity=None, per_page=1)) == ["dataset", "model"]
    assert operations(server) == ["ArtifactTypesPage"] * 2


def test_artifact_types_not_found_and_bad(api: Api, server: LocalServer) -> None:
    with pytest.raises(NotFoundError, match="artifact type 'nope'"):
        api.artifact_type("nope", FULL)
    with pytest.raises(NotFoundError, match="project 'local/zzz'"):
        list(api.artifact_types(f"{ENTITY}/zzz"))
    api = make_api(server, entity=ENTITY)  # a default entity: no lookup before the check
    server.clear_requests()
    for bad in ("a/b/c", "e//p"):
        with pytest.raises(ConfigurationError):
            api.artifact_types(bad)
    with pytest.raises(ConfigurationError):
        api.artifact_type("x:y", FULL)
    assert operations(server) == []


def test_run_artifacts(api: Api, server: LocalServer) -> None:
    run = api.run(f"{FULL}/sw-run-1")
    server.clear_requests()
    assert [a.name for a in run.logged_artifacts(per_page=1)] == ["weights:v0"]
    assert sorted(a.version for a in run.used_artifacts(per_page=2)) == ["v0", "v1", "v2", "v3", "v4"]
    assert operations(server) == ["RunLoggedArtifactsPage"] + ["RunUsedArtifactsPage"] * 3
    frame = api.run(f"{FULL}/sw-run-0").logged_artifacts().to_pandas()
    assert len(frame) == 5 and "metadata.rows" in frame.columns


def test_run_artifacts_not_found(api: Api) -> None:
    from wandb_frames.resources.artifacts import logged_artifacts, used_artifacts

    with pytest.raises(NotFoundError) as info:
        list(logged_artifacts(api, ENTITY, PROJECT, "nope"))
    assert info.value.what == "run 'local/surface/nope'"
    with pytest.raises(NotFoundError) as info:
        list(used_artifacts(api, ENTITY, "nowhere", "sw-run-0"))
    assert info.value.what == "project 'local/nowhere'"
    with pytest.raises(ConfigurationError):
        used_artifacts(api, ENTITY, PROJECT, "a/b")


def test_artifact_frame_json_columns(api: Api) -> None:
    """Metadata values that cannot share one Arrow type, and media dicts, become marked JSON text,
    with the same ``LossyConversionWarning`` a runs frame gives for a mixed config column."""
    versions = api.artifact_versions("dataset", f"{FULL}/mixed")
    with pytest.warns(LossyConversionWarning, match="metadata.k"):
        frame = versions.to_pandas()
    assert list(frame["metadata.k"]) == ['"auto"', "1"]
    assert json.loads(frame["metadata.img"].iloc[1]) == {"_type": "image-file", "path": "a.png"}
    assert set(frame.attrs["wandb_frames"]["json_columns"]) == {"metadata.k", "metadata.img"}


def test_artifact_type_collections(api: Api, server: LocalServer) -> None:
    dataset = api.artifact_type("dataset", FULL)
    server.clear_requests()
    collections = dataset.collections()
    assert operations(server) == []  # lazy
    names = sorted(c.name for c in collections)
    assert names == ["data", "mixed"]
    assert operations(server) == ["ArtifactTypeCollectionsPage"]
    data = next(c for c in collections if c.name == "data")
    assert (data.type, data.kind, data.entity, data.project) == ("dataset", "sequence", ENTITY, PROJECT)
    assert sorted(a.version for a in data.versions()) == ["v0", "v1", "v2", "v3", "v4"]
    frame = collections.to_pandas()
    assert list(frame.columns) == ["id", "name", "type", "kind", "description", "tags", "created_at",
                                   "updated_at", "entity", "project"]
    assert sorted(frame["name"]) == ["data", "mixed"] and str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert [c.name for c in api.artifact_type("model", FULL).collections()] == ["weights"]


def test_artifact_type_collections_paginate_and_fail(api: Api, server: LocalServer) -> None:
    dataset = api.artifact_type("dataset", FULL)
    server.clear_requests()
    assert sorted(c.name for c in dataset.collections(per_page=1)) == ["data", "mixed"]
    assert operations(server) == ["ArtifactTypeCollectionsPage"] * 2
    assert dataset.collection("mixed").name == "mixed"
    with pytest.raises(NotFoundError, match="artifact collection 'nope'"):
        dataset.collection("nope")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        dataset.collections(per_page=0)
    assert operations(server) == []
    gone = type(dataset)(id="x", name="gone", description=None, created_at=None, entity=ENTITY,
                         project=PROJECT, _executor=api)
    with pytest.raises(NotFoundError, match="artifact type 'gone'"):
        list(gone.collections())
