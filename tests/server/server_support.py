"""Helpers for the local-server tests: seed data and a tiny GraphQL client over requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from wandb_frames.testing import LocalServer, RunRecord

ENTITY = "ent"
PROJECT = "proj"
KEY = "local-" + "k" * 40


def make_runs(n: int, n_keys: int = 3) -> list[RunRecord]:
    """A deterministic little project: config/summary/tags/history vary with the index."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    runs: list[RunRecord] = []
    for i in range(n):
        runs.append({
            "id": f"run{i:03d}",
            "display_name": f"name-{i % 4}",
            "state": "running" if i % 5 == 0 else "finished",
            "created_at": start + timedelta(hours=i),
            "config": {"lr": 0.001 * (i + 1), "model": {"layers": i % 3, "act": "relu"},
                       **{f"c{k}": k * i for k in range(n_keys)}},
            "summary": {"loss": 1.0 / (i + 1), "acc": (i % 7) / 7, "_runtime": 60.0 * i},
            "system_metrics": {"cpu": 10.0 + i},
            "tags": ["even"] if i % 2 == 0 else ["odd", "x"],
            "group": f"g{i % 2}",
            "job_type": "train" if i % 3 else "eval",
            "host": f"node-{i % 2}",
            "history": [{"_step": s, "_runtime": float(s), "loss": 1.0 / (s + 1), **({"acc": s / 10} if s % 2 else {})}
                        for s in range(10)],
            "system_history": [{"_runtime": float(s), "system.cpu": 5.0 * s} for s in range(4)],
            "files": {"wandb-metadata.json": json.dumps({"host": f"node-{i % 2}"}), "output.log": "a\nb\nc\n"},
        })
    return runs


class Client:
    """POST /graphql with the server's key; returns the parsed JSON (asserting the status)."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = ("api", server.api_key)

    def post(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> requests.Response:
        body: dict[str, Any] = {"query": query, "variables": variables or {}, "operationName": ""}
        body.update(extra)
        return self.session.post(self.server.url + "/graphql", json=body, timeout=30)

    def __call__(self, query: str, variables: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = self.post(query, variables)
        assert response.status_code == status, response.text
        return response.json()
