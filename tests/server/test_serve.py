"""The foreground entry point in a subprocess: URL/KEY lines, --api-key, --demo, clean SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

KEY = "local-" + "s" * 40


@pytest.fixture()
def demo() -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.testing", "serve", "--demo", "--runs", "30", "--api-key", KEY],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        url_line, key_line = proc.stdout.readline().split(), proc.stdout.readline().split()
        assert url_line[0] == "URL" and key_line[0] == "KEY"
        yield url_line[1], key_line[1]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_serve_subprocess(demo: tuple[str, str]) -> None:
    url, key = demo
    assert key == KEY and url.startswith("http://127.0.0.1:")
    doc = 'query { project(name: "sweep-demo", entityName: "demo") { runCount totalSweeps } }'
    body = requests.post(url + "/graphql", json={"query": doc}, auth=("api", key), timeout=10).json()
    assert body["data"]["project"]["runCount"] == 30
    assert body["data"]["project"]["totalSweeps"] >= 1


def test_serve_network_flags() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.testing", "serve", "--api-key", KEY, "--latency", "0.02",
         "--rate-limit", "0.5", "--burst", "1"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1]
        proc.stdout.readline()
        doc = {"query": "query { viewer { id } }"}
        first = requests.post(url + "/graphql", json=doc, auth=("api", KEY), timeout=10)
        second = requests.post(url + "/graphql", json=doc, auth=("api", KEY), timeout=10)
        assert (first.status_code, second.status_code) == (200, 429)
        assert float(second.headers["Retry-After"]) > 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
