"""Api.reports (beta) and Run.files / Run.file against the local server."""

from __future__ import annotations

import json

import pytest

from surface_support import ENTITY, PROJECT, HttpExecutor
from wandb_frames.errors import ConfigurationError, NotFoundError
from wandb_frames.files import get_file, list_files
from wandb_frames.reports import list_reports, report_url


def test_reports_paginate_and_frame(executor: HttpExecutor) -> None:
    reports = list_reports(executor, ENTITY, PROJECT, per_page=2, app_url="http://app.test")
    frame = reports.to_pandas()
    assert executor.operations == ["ReportsPage"] * 3
    assert sorted(frame["name"]) == [f"report-{k}" for k in range(5)]
    first = next(r for r in reports if r.name == "report-1")
    assert (first.display_name, first.description, first.user) == ("Weekly report 1", "week 1", "alice")
    assert first.spec == {"blocks": [{"type": "paragraph", "k": 1}]}
    assert first.url == "http://app.test/local/surface/reports/Weekly-report-1--Vmlldzo1"
    assert json.loads(frame.set_index("name").loc["report-1", "spec"]) == first.spec
    assert str(frame["updated_at"].dtype) == "timestamp[us, tz=UTC][pyarrow]"


def test_reports_by_name(executor: HttpExecutor) -> None:
    assert [r.id for r in list_reports(executor, ENTITY, PROJECT, name="report%2D3")] == ["Vmlldzo3"]
    assert list(list_reports(executor, ENTITY, PROJECT, name="unknown")) == []


def test_reports_not_found_and_bad(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError, match="project 'local/nope'"):
        list(list_reports(executor, ENTITY, "nope"))
    executor.operations.clear()
    for args in (("a/b", PROJECT, None, 50), (ENTITY, PROJECT, "", 50), (ENTITY, PROJECT, None, -1)):
        with pytest.raises(ConfigurationError):
            list_reports(executor, *args)  # type: ignore[arg-type]
    assert executor.operations == []


def test_report_url_without_title() -> None:
    assert report_url("http://x", "e", "p", None, "id") is None
    assert report_url("http://x/", "e", "p", "A  b!c", "ab==") == "http://x/e/p/reports/A-b-c--ab"


def test_files_paginate_and_frame(executor: HttpExecutor) -> None:
    files = list_files(executor, ENTITY, PROJECT, "sw-run-0", per_page=2)
    frame = files.to_pandas()
    assert executor.operations == ["RunFilesPage"] * 3
    assert list(frame["name"]) == [f"file-{k}.txt" for k in range(5)]
    assert list(frame["size"]) == [9] * 5 and files.file_count == 5
    assert [f.name for f in list_files(executor, ENTITY, PROJECT, "sw-run-0", pattern="%-3.txt")] == ["file-3.txt"]


def test_file_by_name(executor: HttpExecutor) -> None:
    found = get_file(executor, ENTITY, PROJECT, "sw-run-0", "file-2.txt")
    assert (found.name, found.size, found.mimetype) == ("file-2.txt", 9, "text/plain")
    with pytest.raises(NotFoundError) as info:
        get_file(executor, ENTITY, PROJECT, "sw-run-0", "missing.txt")
    assert info.value.what == "file 'missing.txt' of run 'local/surface/sw-run-0'"


def test_files_not_found_and_bad(executor: HttpExecutor) -> None:
    with pytest.raises(NotFoundError, match="run 'local/surface/ghost'"):
        list(list_files(executor, ENTITY, PROJECT, "ghost"))
    executor.operations.clear()
    for kwargs in ({"names": "a.txt"}, {"pattern": ""}, {"names": ["a"], "pattern": "%"}, {"per_page": 0}):
        with pytest.raises(ConfigurationError):
            list_files(executor, ENTITY, PROJECT, "sw-run-0", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        get_file(executor, ENTITY, PROJECT, "sw-run-0", "")
    assert executor.operations == []
