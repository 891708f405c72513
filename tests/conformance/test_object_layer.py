"""Differential suite: every public member of wandb 0.31.0's objects, on ours and on wandb's.

Generated from introspection (see ``object_layer.py``): one test per class × member of the
wandb class, one test per class for the attributes a live wandb instance carries, and one test
that docs/api.md's compatibility table is the one these data render
(``WANDB_FRAMES_WRITE_COMPAT=1`` rewrites it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conformance_support import ENTITY, PROJECT, same
from object_layer import (
    CALLS,
    CLASSES,
    DIFFERENT,
    READS,
    WRITES,
    Observed,
    class_members,
    instance_members,
    is_method,
    observe,
    signature_problems,
    status,
    table,
    unsupported_reason,
)

from wandb_frames.errors import UnsupportedFeatureError
from wandb_frames.testing import LocalServer, RunRecord

PATH = f"{ENTITY}/{PROJECT}"
DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
START, END = "<!-- compat-table:start -->", "<!-- compat-table:end -->"

Pair = tuple[Any, Any]


@pytest.fixture(scope="session")
def ours_api(server: LocalServer) -> Any:
    import wandb_frames

    return wandb_frames.Api(overrides={"base_url": server.url}, api_key=server.api_key, progress=False)


def _run_id(records: list[RunRecord]) -> str:
    """A finished run of a sweep, with history, metadata and an output log."""
    return next(r["id"] for r in records if r.get("state") == "finished" and r.get("sweep")
                and len(r.get("history", [])) >= 30)


def _loaded(project: Any) -> Any:
    """wandb loads a project's fields on first use: touch ``id`` so its attributes are known."""
    assert project.id
    return project


_MAKERS: dict[str, Callable[[Any, str], Any]] = {
    "Run": lambda api, rid: api.run(f"{PATH}/{rid}"),
    "Runs": lambda api, rid: api.runs(PATH),
    "Project": lambda api, rid: _loaded(api.project(PROJECT, ENTITY)),
    "Projects": lambda api, rid: api.projects(ENTITY),
    "Sweep": lambda api, rid: api.run(f"{PATH}/{rid}").sweep,
    "Sweeps": lambda api, rid: (api.sweeps(PATH) if hasattr(api, "cache") else api.project(PROJECT, ENTITY).sweeps()),
    "Artifact": lambda api, rid: api.artifact(f"{PATH}/classifier:latest"),  # one file, logged by a run
    "Artifacts": lambda api, rid: api.artifact_versions("model", f"{PATH}/classifier"),
    "ArtifactType": lambda api, rid: api.artifact_type("dataset", PATH),
    "ArtifactTypes": lambda api, rid: api.artifact_types(PATH),
    "File": lambda api, rid: api.run(f"{PATH}/{rid}").file("wandb-metadata.json"),
    "Files": lambda api, rid: api.run(f"{PATH}/{rid}").files(),
    "Reports": lambda api, rid: api.reports(PATH),
    "BetaReport": lambda api, rid: api.reports(PATH)[0],
    "User": lambda api, rid: api.run(f"{PATH}/{rid}").user,
    "Api": lambda api, rid: api,
}


class Pairs:
    """(wandb object, our object) pairs read from the same seeded server, fresh for each test.

    Fresh, because wandb's objects change as they are used (``Artifact.download()`` rewrites
    the artifact's manifest and size).
    """

    def __init__(self, official: Any, ours: Any, run_id: str, sweep_id: str) -> None:
        self.official, self.ours, self.run_id, self.sweep_id = official, ours, run_id, sweep_id

    def __getitem__(self, name: str) -> Pair:
        make = _MAKERS[name]
        return make(self.official, self.run_id), make(self.ours, self.run_id)


@pytest.fixture(scope="module")
def official_api(wandb_env: Path, server: LocalServer) -> Any:
    """A ``wandb.Api`` of this module's own (the suite's request-log tests need a fresh session one)."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.url})


@pytest.fixture(scope="module")
def pairs(official_api: Any, ours_api: Any, records: list[RunRecord]) -> Pairs:
    rid = _run_id(records)
    return Pairs(official_api, ours_api, rid, next(str(r["sweep"]) for r in records if r["id"] == rid))


def _filler(tmp: Path, pairs: Pairs) -> Callable[[Any], Any]:
    names = {"{tmp}": str(tmp), "{collection}": "classifier", "{path}": PATH, "{project}": PROJECT,
             "{entity}": ENTITY, "{run}": pairs.run_id, "{sweep}": pairs.sweep_id}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for placeholder, text in names.items():
                value = value.replace(placeholder, text)
        return value
    return fill


def _check(name: str, member: str, pair: Pair, tmp: Path, pairs: Pairs) -> list[str]:
    """Problems of one member (empty: conforms to its status)."""
    theirs, ours = pair
    st = status(name, member)
    if st == "unsupported":
        try:
            getattr(ours, member)
        except UnsupportedFeatureError as exc:
            return [] if exc.feature.endswith(f".{member}") else [f"error names {exc.feature!r}"]
        return ["declared unsupported but readable"]
    if st == "different":
        try:
            getattr(ours, member)
        except AttributeError as exc:
            return [f"AttributeError: {exc}"]
        return []
    problems = [f"signature: {p}" for p in signature_problems(name, member)] if hasattr(type(theirs), member) else []
    if st == "write":
        return problems
    key = f"{name}.{member}"
    if is_method(name, member) and key not in CALLS and key not in READS:
        return problems + ["a method in none of CALLS, READS, WRITES, DIFFERENT: classify it (object_layer.py)"]
    calls = CALLS.get(key, [((), {})]) if is_method(name, member) else [None]
    for n, call in enumerate(calls):
        official = observe(theirs, member, call, _filler(tmp / f"wandb-{n}", pairs))
        mine = observe(ours, member, call, _filler(tmp / f"ours-{n}", pairs))
        official.value = _untmp(official.value, str(tmp / f"wandb-{n}"))
        mine.value = _untmp(mine.value, str(tmp / f"ours-{n}"))
        problems += _compare(official, mine, f"call {call}" if call else "value")
    return problems


def _untmp(value: Any, folder: str) -> Any:
    """``value`` with the per-client download folder written as ``{tmp}``."""
    if isinstance(value, str):
        return value.replace(folder, "{tmp}")
    if isinstance(value, list):
        return [_untmp(v, folder) for v in value]
    if isinstance(value, tuple):
        return tuple(_untmp(v, folder) for v in value)
    if isinstance(value, dict):
        return {k: _untmp(v, folder) for k, v in value.items()}
    return value


def _compare(official: Observed, mine: Observed, what: str) -> list[str]:
    if official.kind == "error":
        return [] if mine.kind == "error" else [f"{what}: wandb raised {official.error}, ours gave {mine.value!r}"[:400]]
    if mine.kind == "error":
        return [f"{what}: ours raised {mine.error}"]
    if official.kind != mine.kind:
        return [f"{what}: kind {mine.kind} (ours) != {official.kind} (wandb): {mine.value!r:.120} vs {official.value!r:.120}"]
    diffs = same(mine.value, official.value)
    return [f"{what}: {d}"[:300] for d in diffs[:5]]


@pytest.mark.parametrize(("name", "member"), [(c, m) for c in CLASSES for m in class_members(c)],
                         ids=[f"{c}.{m}" for c in CLASSES for m in class_members(c)])
def test_member(name: str, member: str, pairs: Pairs, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> None:
    """A member of wandb's class: same signature and value on ours, or documented (see ``status``)."""
    monkeypatch.chdir(tmp_path)  # wandb writes some downloads relative to the working directory
    problems = _check(name, member, pairs[name], tmp_path, pairs)
    assert not problems, f"{name}.{member}: " + "; ".join(problems)


@pytest.mark.parametrize("name", CLASSES)
def test_instance_attributes(name: str, pairs: Pairs, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The attributes a live wandb object carries beyond its class (``Attrs`` fields, instance variables)."""
    monkeypatch.chdir(tmp_path)
    pair = pairs[name]
    failures = {}
    for member in instance_members(name, pair[0]):
        problems = _check(name, member, pair, tmp_path, pairs)
        if problems:
            failures[member] = problems
    assert not failures, f"{name}: {failures}"


def _rows(pairs: Pairs) -> list[tuple[str, str, str, str]]:
    rows = []
    for name in CLASSES:
        members = sorted(set(class_members(name)) | set(instance_members(name, pairs[name][0])))
        for member in members:
            st = status(name, member)
            note = {"different": DIFFERENT.get(f"{name}.{member}", ""),
                    "unsupported": unsupported_reason(name, member) or "",
                    "write": WRITES.get(f"{name}.{member}", "")}.get(st, "")
            rows.append((name, member, st, note))
    return rows


def test_compat_table_in_docs_is_current(pairs: Pairs) -> None:
    """docs/api.md holds the table these data render (``WANDB_FRAMES_WRITE_COMPAT=1`` rewrites it)."""
    rendered = table(_rows(pairs))
    text = DOC.read_text("utf-8")
    assert START in text and END in text, f"docs/api.md lacks the {START} … {END} markers"
    head, rest = text.split(START, 1)
    current, tail = rest.split(END, 1)
    if os.environ.get("WANDB_FRAMES_WRITE_COMPAT") == "1":
        DOC.write_text(f"{head}{START}\n{rendered}{END}{tail}", "utf-8")
        return
    assert current.strip() == rendered.strip(), (
        "docs/api.md's compatibility table is stale: run "
        "WANDB_FRAMES_WRITE_COMPAT=1 pytest tests/conformance/test_object_layer.py -k compat_table")
