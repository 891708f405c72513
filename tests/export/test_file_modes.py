"""Files we write get the mode any new file gets: 0666/0777 less the umask (not mkstemp's 0600).

Every writer is checked under umask 022 and 027, with the umask set in the test: the export
functions, ``Runs.to_parquet`` and histories over real HTTP, the on-disk caches,
``File.download`` and the CLI's ``--output``. Rewriting an existing file keeps its mode.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from wandb_frames.api import Api
from wandb_frames.cli import main
from wandb_frames.export import write_parquet, write_parquet_stream
from wandb_frames.testing import LocalServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
TABLE = pa.table({"id": ["a", "b"], "x": [1, 2]})


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    mask: int = request.param
    previous = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def file_mode(mask: int) -> int:
    return 0o666 & ~mask


def dir_mode(mask: int) -> int:
    return 0o777 & ~mask


def no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporary files left"


def test_write_parquet_new_file(tmp_path: Path, umask: int) -> None:
    target = write_parquet(TABLE, tmp_path / "runs.parquet")
    assert mode(target) == file_mode(umask)
    no_leftovers(tmp_path)


def test_write_parquet_stream_new_file(tmp_path: Path, umask: int) -> None:
    target = write_parquet_stream([TABLE, TABLE], TABLE.schema, tmp_path / "h.parquet")
    assert mode(target) == file_mode(umask)
    no_leftovers(tmp_path)


def test_partitioned_export_directory_and_files(tmp_path: Path, umask: int) -> None:
    root = write_parquet(TABLE, tmp_path / "parts", partition_by=["id"])
    assert mode(root) == dir_mode(umask)
    entries = list(root.rglob("*"))
    assert entries
    for entry in entries:
        assert mode(entry) == (dir_mode(umask) if entry.is_dir() else file_mode(umask)), entry
    no_leftovers(tmp_path)


def test_rewriting_keeps_the_mode_of_the_existing_file(tmp_path: Path, umask: int) -> None:
    target = write_parquet(TABLE, tmp_path / "private.parquet")
    target.chmod(0o600)
    write_parquet(TABLE, target)
    assert mode(target) == 0o600
    shared = write_parquet(TABLE, tmp_path / "shared.parquet")
    shared.chmod(0o664)
    write_parquet_stream([TABLE], TABLE.schema, shared)
    assert mode(shared) == 0o664


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    runs = [{"id": f"m{i}", "state": "finished", "config": {"lr": 0.1 * i},
             "history": [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(5)],
             "files": {"media/out.txt": "hello\n"}} for i in range(3)]
    with LocalServer(entity="local") as srv:
        srv.add_runs("local", "modes", runs)
        yield srv


def test_runs_and_histories_exports_over_http(server: LocalServer, tmp_path: Path, umask: int) -> None:
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
    runs = api.runs("local/modes")
    assert mode(Path(runs.to_parquet(tmp_path / "runs.parquet"))) == file_mode(umask)
    assert mode(Path(runs.history_frames().to_parquet(tmp_path / "hist.parquet"))) == file_mode(umask)
    no_leftovers(tmp_path)


def test_cache_files_over_http(server: LocalServer, tmp_path: Path, umask: int) -> None:
    cache = tmp_path / "cache"
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False, cache=cache)
    api.runs("local/modes").to_arrow()
    api.run("local/modes/m1").history_table()
    written = [p for p in cache.rglob("*") if p.is_file()]
    assert len(written) >= 2, written  # the runs cache and the history cache
    for path in written:
        assert mode(path) == file_mode(umask), path


def test_file_download_over_http(server: LocalServer, tmp_path: Path, umask: int) -> None:
    api = Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)
    target = api.run("local/modes/m0").file("media/out.txt").download_to(tmp_path)
    assert target.read_text() == "hello\n"
    assert mode(target) == file_mode(umask)
    no_leftovers(target.parent)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_cli_outputs(server: LocalServer, tmp_path: Path, umask: int, suffix: str,
                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / f"out{suffix}"
    assert main(["runs", "local/modes", "--no-progress", "-o", str(target)]) == 0
    capsys.readouterr()
    assert mode(target) == file_mode(umask)
