"""Shared helpers for the history tests: the real Api as executor, and seeded histories."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import graphql

from wandb_frames.errors import GraphQLError
from wandb_frames.graphql.documents import Document
from wandb_frames.graphql.transport import operation_name
from wandb_frames.testing.records import RunRecord

ENTITY, PROJECT = "local", "hist"


class RequestsExecutor:
    """The real client core (``wandb_frames.Api``) as the history executor, recording operations.

    ``execute`` and ``get`` go through the Api's own transport (auth, retries, error mapping);
    the wrapper only keeps the operation names in ``calls`` for the tests' request assertions.
    """

    def __init__(self, url: str, api_key: str) -> None:
        from wandb_frames import Api
        from wandb_frames.history import parquet_getter

        self.api = Api(api_key=api_key, overrides={"base_url": url}, progress=False)
        self.get = parquet_getter(self.api)
        self.calls: list[str] = []

    def execute(
        self,
        document: Document | graphql.DocumentNode,
        variables: Mapping[str, Any],
        *,
        operation: str | None = None,
    ) -> dict[str, Any]:
        name = operation or (document.operation if isinstance(document, Document) else operation_name(document))
        self.calls.append(name)
        return self.api.execute(document, variables, operation=name)


class NoParquetExecutor(RequestsExecutor):
    """The same executor against a server variant without the parquet export (old W&B server)."""

    def execute(
        self,
        document: Document | graphql.DocumentNode,
        variables: Mapping[str, Any],
        *,
        operation: str | None = None,
    ) -> dict[str, Any]:
        if operation in ("RunParquetHistory", "RunsParquetHistory"):
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
