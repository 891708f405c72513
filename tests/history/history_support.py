"""Shared helpers for the history tests: a minimal real executor and seeded histories."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import graphql
import requests

from wandb_frames.errors import AuthenticationError, GraphQLError, HTTPStatusError, ProtocolError
from wandb_frames.testing.records import RunRecord

ENTITY, PROJECT = "local", "hist"


class RequestsExecutor:
    """A minimal executor over ``requests``: posts the printed document with Basic auth."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.auth = ("api", api_key)
        self.calls: list[str] = []

    def execute(self, document: graphql.DocumentNode, variables: Mapping[str, Any], *, operation: str) -> dict[str, Any]:
        self.calls.append(operation)
        body = {"query": graphql.print_ast(document), "variables": dict(variables), "operationName": operation}
        resp = self.session.post(f"{self.url}/graphql", json=body, timeout=60)
        if resp.status_code in (401, 403):
            raise AuthenticationError("rejected", operation=operation, status_code=resp.status_code)
        if resp.status_code != 200:
            raise HTTPStatusError(f"HTTP {resp.status_code}", operation=operation, status_code=resp.status_code)
        payload = resp.json()
        if payload.get("errors"):
            raise GraphQLError(str(payload["errors"]), operation=operation, errors=payload["errors"])
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ProtocolError("no data", operation=operation)
        return data

    def get(self, url: str) -> bytes:
        resp = self.session.get(url, timeout=60, auth=None, headers={"Accept-Encoding": "identity"})
        resp.raise_for_status()
        return resp.content


class NoParquetExecutor(RequestsExecutor):
    """The same executor against a server variant without the parquet export (old W&B server)."""

    def execute(self, document: graphql.DocumentNode, variables: Mapping[str, Any], *, operation: str) -> dict[str, Any]:
        if operation == "RunParquetHistory":
            self.calls.append(operation)
            raise GraphQLError("Cannot query field 'parquetHistory' on type 'Run'.", operation=operation)
        return super().execute(document, variables, operation=operation)


def _plain() -> list[dict[str, Any]]:
    rows = []
    for s in range(60):
        row: dict[str, Any] = {"_step": s, "_runtime": s * 0.5, "_timestamp": 1.7e9 + s, "loss": 1.0 / (s + 1),
                               "acc": s / 60, "epoch": s // 10}
        if s % 10 == 0:
            row["eval/loss"] = 2.0 / (s + 1)
        if s == 7:
            row["loss"] = math.nan
        if s == 8:
            row["acc"] = math.inf
        if s % 25 == 0:
            row["caption"] = f"text {s}"
            row["img"] = {"_type": "image-file", "path": f"media/{s}.png", "width": 4}
        rows.append(row)
    return rows


def _resumed() -> list[dict[str, Any]]:
    first = [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 10.0 + s, "only_first": 1.0}
             for s in range(30)]
    second = [{"_step": s, "_runtime": float(s), "_timestamp": 1.8e9 + s, "loss": 100.0 + s} for s in range(20, 45)]
    return first + second


def _gaps() -> list[dict[str, Any]]:
    return [{"_step": s, "_runtime": float(i), "_timestamp": 1.7e9 + i, "x": float(s) * 1.5}
            for i, s in enumerate([0, 5, 100, 1000, 1001, 25_000])]


RECORDS: list[RunRecord] = [
    {"id": "plain", "state": "finished", "config": {"lr": 0.1}, "group": "g1", "history": _plain(),
     "system_history": [{"_runtime": 10.0 * i, "_timestamp": 1.7e9 + 10 * i, "system.cpu": 5.0 + i,
                         "system.gpu.0.gpu": 50.0 - i} for i in range(12)]},
    {"id": "resumed", "state": "finished", "config": {"lr": 0.01}, "group": "g2", "history": _resumed()},
    {"id": "running", "state": "running", "config": {"lr": 0.01}, "group": "g2",
     "history": [{"_step": s, "_runtime": float(s), "_timestamp": 1.7e9 + s, "loss": 0.5 * s} for s in range(40)]},
    {"id": "gaps", "state": "finished", "config": {"lr": 1.0}, "history": _gaps()},
    {"id": "empty", "state": "finished", "config": {"lr": 1.0}},
]
RUN_IDS = [r["id"] for r in RECORDS]


def expected_long(rows: list[dict[str, Any]]) -> dict[tuple[int, str], float]:
    """Reference model: last numeric write wins per (step, metric)."""
    out: dict[tuple[int, str], float] = {}
    for row in rows:
        for k, v in row.items():
            if k.startswith("_") or isinstance(v, (str, dict, list)) or v is None:
                continue
            out[(int(row["_step"]), k)] = float(v)
    return out
