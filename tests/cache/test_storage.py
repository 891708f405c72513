"""Files: location, atomic writes, corruption, clearing, secrets; merging tables (property)."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from cache_support import ENTITY, PROJECT, changed, fetch, make_api, make_runs, same_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames import export
from wandb_frames.cache.merge import merge_tables, sort_runs, upsert_runs
from wandb_frames.cache.store import RunsCache, default_cache_dir, resolve_cache, safe_url
from wandb_frames.errors import CacheError, ConfigurationError, CorruptRecordWarning
from wandb_frames.tabular import TableAssembler
from wandb_frames.testing import LocalServer


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def test_default_location_follows_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("WANDB_FRAMES_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "wandb-frames"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_cache_dir() == Path.home() / ".cache" / "wandb-frames"
    assert resolve_cache(None) is None and resolve_cache(False) is None
    assert resolve_cache(tmp_path).directory == tmp_path  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        resolve_cache(3)  # type: ignore[arg-type]


def test_files_hold_no_api_key_and_no_credentials(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    assert safe_url("https://user:pw@Api.Example.com:8443/x/?q=1") == "https://api.example.com:8443/x"
    for path in _files(cache_dir):
        assert server.api_key.encode() not in path.read_bytes()
        assert server.api_key not in str(path)
    assert "hash" not in repr(RunsCache(cache_dir))


def test_crash_mid_write_leaves_the_previous_cache_readable(
    server: LocalServer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fetch(server, cache_dir)
    before = {p: p.read_bytes() for p in _files(cache_dir)}
    server.add_runs(ENTITY, PROJECT, [changed(make_runs(40)[2], loss=7.0)])

    def crash(src: str, dst: str) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(export.os, "replace", crash)
    with pytest.raises(CacheError, match="could not write"):
        fetch(server, cache_dir)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in _files(cache_dir)} == before  # untouched, no temp left
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]
    offline = fetch(server, cache_dir, offline=True)
    assert same_rows(offline, first)


def test_corrupt_file_is_detected_refetched_and_replaced(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    (path,) = _files(cache_dir)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # damage a data page
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptRecordWarning, match="damaged"):
        table = fetch(server, cache_dir)
    assert same_rows(table, fetch(server, None))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same_rows(fetch(server, cache_dir, offline=True), table)


def test_truncated_file_offline_is_an_error_not_garbage(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    (path,) = _files(cache_dir)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CorruptRecordWarning), pytest.raises(CacheError, match="nothing is cached"):
        fetch(server, cache_dir, offline=True)


def test_flush_forgets_memory_and_clear_removes_files(server: LocalServer, cache_dir: Path) -> None:
    api = make_api(server, RunsCache(cache_dir))
    api.runs(f"{ENTITY}/{PROJECT}").to_arrow()
    assert api.cache is not None and api.cache._memory
    api.flush()
    assert not api.cache._memory and _files(cache_dir)
    api.runs(f"{ENTITY}/{PROJECT}").to_arrow()
    api.flush(clear_cache=True)
    assert not _files(cache_dir)
    fetch(server, cache_dir)
    server.add_runs(ENTITY, "other", make_runs(3))
    make_api(server, RunsCache(cache_dir)).runs(f"{ENTITY}/other").to_arrow()
    cache = RunsCache(cache_dir)
    assert sorted(i.project for i in cache.info()) == ["other", PROJECT]
    assert cache.clear(ENTITY, "other") == 1
    assert [i.project for i in cache.info()] == [PROJECT]
    assert cache.clear() == 1 and cache.info() == []


def test_one_file_per_server_project_and_shape(server: LocalServer, cache_dir: Path) -> None:
    fetch(server, cache_dir)
    fetch(server, cache_dir, columns=["id", "config.lr"])  # same full rows: same entry
    assert len(RunsCache(cache_dir).info()) == 1
    fetch(server, cache_dir, sep="/")
    entries = RunsCache(cache_dir).info()
    assert len(entries) == 2 and {e.project for e in entries} == {PROJECT}
    assert os.path.commonpath([e.path for e in entries]).startswith(str(cache_dir / "runs"))


_scalar = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, width=32),
                    st.sampled_from(["a", "b"]), st.booleans(),
                    st.lists(st.integers(0, 3), max_size=2))
_record = st.fixed_dictionaries({}, optional={f"config.k{i}": _scalar for i in range(4)})


@settings(max_examples=60, deadline=None)
@given(st.lists(_record, min_size=1, max_size=6), st.lists(_record, min_size=1, max_size=6))
def test_merging_two_tables_equals_assembling_all_rows(left: list[dict], right: list[dict]) -> None:
    """Types widen exactly as if every row had been assembled together."""
    def assemble(*pages: list[dict]) -> pa.Table:
        asm = TableAssembler()
        for number, page in enumerate(pages):
            asm.add([{"id": f"{number}-{i}", **r} for i, r in enumerate(page)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return asm.finish()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = merge_tables(assemble(left), assemble([], right))
    together = assemble(left, right)
    assert sorted(merged.schema, key=lambda f: f.name) == sorted(together.schema, key=lambda f: f.name)
    for name in together.column_names:
        assert merged.column(name).to_pylist() == together.column(name).to_pylist()


def test_deltas_with_deletions_and_readds_reload_identically(server: LocalServer, cache_dir: Path) -> None:
    """Deltas are folded together before the base: deletes, re-adds and changes in any order."""
    def refresh() -> pa.Table:
        cache = RunsCache(cache_dir)
        cache.compact_fraction = 1.0  # every refresh writes a delta file
        return make_api(server, cache).runs(f"{ENTITY}/{PROJECT}").to_arrow()

    fetch(server, cache_dir)
    project = server.store.project(ENTITY, PROJECT)
    assert project is not None
    records = make_runs(40)
    server.store.delete_run(project.runs["r0004"])
    refresh()
    server.add_runs(ENTITY, PROJECT, [changed(records[4], loss=4.0)])  # re-added
    refresh()
    server.store.delete_run(project.runs["r0007"])
    server.add_runs(ENTITY, PROJECT, [changed(records[8], loss=8.0)])
    online = refresh()
    assert len(list(cache_dir.rglob("*.d*.parquet"))) == 3
    offline = fetch(server, cache_dir, offline=True)
    assert same_rows(offline, online) and same_rows(online, fetch(server, None))
    assert "r0007" not in offline.column("id").to_pylist() and offline.num_rows == 39


_ids = st.lists(st.sampled_from([f"r{i}" for i in range(12)]), unique=True, max_size=8)


@settings(max_examples=60, deadline=None)
@given(_ids, _ids, _ids, st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=24, max_size=24))
def test_upsert_replaces_adds_drops_and_keeps_the_canonical_order(
    cached: list[str], fresh: list[str], drop: list[str], minutes: list[int | None]
) -> None:
    """Same rows as "remove replaced and dropped, append fresh, sort by created_at then id"."""
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def table(ids: list[str], version: int) -> pa.Table:
        asm = TableAssembler()
        asm.add([{"id": i, "created_at": None if (m := minutes[int(i[1:]) + 12 * version]) is None
                  else start + timedelta(minutes=m), "config.v": version} for i in ids])
        return asm.finish()

    old, new = sort_runs(table(cached, 0)), table(fresh, 1)  # a cached table is in canonical order
    got = upsert_runs(old, new, drop_ids=drop)
    rows = {r["id"]: r for r in old.to_pylist() if r["id"] not in drop}
    rows.update({r["id"]: r for r in new.to_pylist()})
    if not cached:  # nothing cached: the fresh rows as they are
        rows = {r["id"]: r for r in new.to_pylist()}
    expected = sorted(rows.values(), key=lambda r: (r["created_at"] is not None, r["created_at"] or start, r["id"]))
    assert [(r["id"], r["config.v"]) for r in got.to_pylist()] == [(r["id"], r["config.v"]) for r in expected]
