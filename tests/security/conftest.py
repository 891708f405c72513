"""The leak hunt's setting: the key in ``~/.netrc`` (as many W&B users keep it), an API server,
a foreign server on another port of the same host, and DEBUG logs checked after every test.

Every test of this folder runs with ``HOME`` and ``NETRC`` pointing at a temporary netrc that
holds the key for ``127.0.0.1`` (so ``requests`` would attach it to *any* port of the host),
and with ``WANDB_API_KEY`` unset. After each test the DEBUG records of ``wandb_frames``,
``urllib3`` and ``requests`` are searched for the key in every encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from leak_support import ENTITY, KEY, PROJECT, ForeignServer, leaks_in

from wandb_frames.testing import LocalServer

LOGGERS = ("wandb_frames", "urllib3", "requests")


def _runs() -> list[dict[str, object]]:
    return [
        {"id": f"h{i}", "state": "finished", "config": {"lr": 0.1 * (i + 1)}, "summary": {"loss": 1.0 / (i + 1)},
         "history": [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(6)],
         "files": {"out.txt": f"run {i}\n", "media/plot.json": "{}"}}
        for i in range(4)
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """The API server (its origin is the only one the key may reach)."""
    with LocalServer(api_key=KEY, entity=ENTITY) as srv:
        srv.add_runs(ENTITY, PROJECT, _runs())
        yield srv


@pytest.fixture
def api_server(server: LocalServer) -> Iterator[LocalServer]:
    """The API server, with no test route left behind."""
    server.routes.clear()
    yield server
    server.routes.clear()


@pytest.fixture
def foreign() -> Iterator[ForeignServer]:
    """Another origin on the same host (another port): it must never receive the key."""
    srv = ForeignServer(files={"/file.bin": b"foreign bytes\n"}).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def netrc_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HOME`` and ``NETRC`` at a temporary netrc holding the key for the test host."""
    home = tmp_path_factory.mktemp("home")
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login api\n  password {KEY}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """DEBUG records of the client and the HTTP stack: none may hold the key."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    found = []
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if names := leaks_in(text):
            found.append(f"{record.name}: {names}")
    assert not found, found

