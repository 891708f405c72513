"""Api.reports (beta) and Run.files / Run.file against the local server."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from surface_support import ENTITY, PROJECT, make_api, operations
from wandb_frames import Api
from wandb_frames.errors import ApiError, ConfigurationError, NotFoundError, ProtocolError
from wandb_frames.resources.reports import report_url
from wandb_frames.testing import LocalServer

FULL = f"{ENTITY}/{PROJECT}"


def test_reports_paginate_and_frame(api: Api, server: LocalServer) -> None:
    reports = api.reports(FULL, per_page=2)
    frame = reports.to_pandas()
    assert operations(server) == ["ReportsPage"] * 3
    assert sorted(frame["name"]) == [f"report-{k}" for k in range(5)]
    first = next(r for r in reports if r.name == "report-1")
    assert (first.display_name, first.description, first.username) == ("Weekly report 1", "week 1", "alice")
    assert first.user is not None and first.user["username"] == "alice"  # the author dict, as wandb
    assert first.spec == {"blocks": [{"type": "paragraph", "k": 1}]}
    assert first.url == f"{api.app_url}/local/surface/reports/Weekly-report-1--Vmlldzo1"
    assert json.loads(frame.set_index("name").loc["report-1", "spec"]) == first.spec
    assert list(frame.columns) == ["id", "name", "display_name", "description", "user", "created_at",
                                   "updated_at", "entity", "project", "url", "spec"]
    assert str(frame["updated_at"].dtype) == "datetime64[us, UTC]"


def test_reports_by_name(api: Api) -> None:
    assert [r.id for r in api.reports(FULL, name="report%2D3")] == ["Vmlldzo3"]
    assert list(api.reports(FULL, name="unknown")) == []


def test_empty_collection_frame_keeps_columns_and_types(api: Api) -> None:
    frame = api.reports(FULL, name="unknown").to_pandas()
    assert len(frame) == 0 and list(frame.columns)[:3] == ["id", "name", "display_name"]
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame.attrs["wandb_frames"]["json_columns"] == []


def test_reports_not_found_and_bad(server: LocalServer) -> None:
    api = make_api(server, entity=ENTITY, project=PROJECT)
    with pytest.raises(NotFoundError, match="project 'local/nope'"):
        list(api.reports("nope"))
    server.clear_requests()
    for path, name, per_page in (("a/b/c", None, 50), (FULL, "", 50), (FULL, None, -1)):
        with pytest.raises(ConfigurationError):
            api.reports(path, name, per_page)
    assert operations(server) == []


def test_report_url_without_title() -> None:
    assert report_url("http://x", "e", "p", None, "id") is None
    assert report_url("http://x/", "e", "p", "A  b!c", "ab==") == "http://x/e/p/reports/A-b-c--ab"


def test_files_paginate_and_frame(api: Api, server: LocalServer) -> None:
    run = api.run(f"{FULL}/sw-run-0")
    server.clear_requests()
    files = run.files(per_page=2)
    frame = files.to_pandas()
    assert operations(server) == ["RunFilesPage"] * 3
    assert list(frame["name"]) == [f"file-{k}.txt" for k in range(5)]
    assert list(frame["size"]) == [9] * 5 and files.file_count == 5
    assert str(frame["size"].dtype) == "int64"
    assert str(frame["updated_at"].dtype) == "datetime64[us, UTC]"
    assert [f.name for f in run.files(pattern="%-3.txt")] == ["file-3.txt"]
    assert [f.name for f in run.files(names=["file-1.txt", "file-4.txt"])] == ["file-1.txt", "file-4.txt"]


def test_file_by_name(api: Api, server: LocalServer) -> None:
    run = api.run(f"{FULL}/sw-run-0")
    server.clear_requests()
    found = run.file("file-2.txt")
    assert (found.name, found.size, found.mimetype) == ("file-2.txt", 9, "text/plain")
    assert operations(server) == ["RunFilesPage"]
    with pytest.raises(NotFoundError) as info:
        run.file("missing.txt")
    assert info.value.what == "file 'missing.txt' of run 'local/surface/sw-run-0'"


def test_files_not_found_and_bad(api: Api, server: LocalServer) -> None:
    from wandb_frames.resources.files import list_files

    with pytest.raises(NotFoundError, match="run 'local/surface/ghost'"):
        list(list_files(api, ENTITY, PROJECT, "ghost"))  # a deleted run: Api.run would fail first
    with pytest.raises(NotFoundError, match="project 'local/gone'"):
        list(list_files(api, ENTITY, "gone", "ghost"))
    run = api.run(f"{FULL}/sw-run-0")
    server.clear_requests()
    for kwargs in ({"pattern": ""}, {"names": ["a"], "pattern": "%"}, {"names": [""]}, {"per_page": 0}):
        with pytest.raises(ConfigurationError):
            run.files(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        run.file("")
    with pytest.raises(ConfigurationError):
        list_files(api, ENTITY, PROJECT, "sw-run-0", names="a.txt")  # type: ignore[arg-type]
    assert operations(server) == []


def test_run_files_rejects_a_bare_string(api: Api, server: LocalServer) -> None:
    run = api.run(f"{FULL}/sw-run-0")
    server.clear_requests()
    with pytest.raises(ConfigurationError):
        run.files(names="a.txt")
    assert operations(server) == []


def test_file_download_and_read_bytes(api: Api, server: LocalServer, tmp_path: Path) -> None:
    run = api.run(f"{FULL}/sw-run-0")
    found = run.file("file-3.txt")
    assert found.read_bytes() == b"content 3"
    with found.download(tmp_path / "out") as opened:  # an open file, as wandb's File.download
        assert opened.read() == "content 3" and opened.name == str(tmp_path / "out" / "file-3.txt")
    written = tmp_path / "out" / "file-3.txt"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["file-3.txt"]  # no temp file left
    with pytest.raises(ConfigurationError, match="replace=True"):
        found.download(tmp_path / "out")
    written.write_bytes(b"mine")
    assert found.download_to(tmp_path / "out", exist_ok=True).read_bytes() == b"mine"
    assert found.download_to(tmp_path / "out", replace=True).read_bytes() == b"content 3"
    assert sorted(f.download_to(tmp_path / "all").name for f in run.files()) == [f"file-{k}.txt" for k in range(5)]


def test_file_download_refuses_names_outside_root(api: Api, server: LocalServer, tmp_path: Path) -> None:
    found = api.run(f"{FULL}/sw-run-0").file("file-1.txt")
    server.clear_requests()
    for bad in ("../escape.txt", "/etc/escape.txt", "a/../../escape.txt"):
        with pytest.raises(ConfigurationError, match="outside"):
            dataclasses.replace(found, name=bad).download(tmp_path / "root")
    assert not (tmp_path / "escape.txt").exists()
    assert server.requests == []  # refused before any request


def test_file_download_errors_are_typed(api: Api, server: LocalServer, tmp_path: Path) -> None:
    found = api.run(f"{FULL}/sw-run-0").file("file-1.txt")
    assert found.url is not None
    missing = dataclasses.replace(found, url=found.url.rsplit("/", 1)[0] + "/no-such-file")
    with pytest.raises(ApiError) as info:
        missing.download(tmp_path)
    assert info.value.operation == "GET run file"
    assert not any(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(ProtocolError, match="no download URL"):
        dataclasses.replace(found, url=None).read_bytes()
