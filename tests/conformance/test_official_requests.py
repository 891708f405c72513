"""Per-request audit: the server is driven by wandb 0.31.0's real documents (protocol notes §2, §3).

The server logs ``(operation name, variables)`` of every authenticated ``/graphql`` request;
the operation name is parsed from the document the client sent, so these assertions check
that the official client's own documents (not ours) were executed.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

from conformance_support import ENTITY, PROJECT, operations

from wandb_frames.testing import LocalServer, RunRecord

PATH = f"{ENTITY}/{PROJECT}"


def test_bootstrap_and_runs_iteration_documents(wandb_env: Path, server: LocalServer,
                                                records: list[RunRecord]) -> None:
    """``Api()`` → ``Viewer``; first listing → ``GetDefaultEntity``; then one ``Runs`` per page."""
    import wandb

    server.clear_requests()
    api = wandb.Api(api_key=server.api_key, overrides={"base_url": server.url})
    assert operations(server) == ["Viewer"]
    assert server.requests[0][1] == {}

    per_page = 16
    filters = {"state": "finished"}
    ids = [run.id for run in api.runs(PATH, filters=filters, per_page=per_page)]
    n = sum(1 for r in records if r.get("state") == "finished")
    assert len(ids) == n
    pages = math.ceil(n / per_page)
    assert operations(server) == ["Viewer", "GetDefaultEntity"] + ["Runs"] * pages

    variables = [v for name, v in server.requests if name == "Runs"]
    assert variables[0] == {"cursor": None, "entity": ENTITY, "filters": json.dumps(filters),
                            "order": "+created_at", "perPage": per_page, "project": PROJECT}
    for k, v in enumerate(variables[1:], start=1):
        assert base64.b64decode(v["cursor"]).decode() == f"arrayconnection:{k * per_page - 1}"
        assert v["filters"] == '{"state": "finished"}'


def test_entity_override_skips_get_default_entity(wandb_env: Path, server: LocalServer,
                                                  records: list[RunRecord]) -> None:
    import wandb

    server.clear_requests()
    api = wandb.Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": ENTITY})
    runs = api.runs(PROJECT, per_page=100)
    assert len(runs) == len(records)
    assert {r.id for r in runs} == {r["id"] for r in records}
    assert operations(server) == ["Viewer", "Runs"]


def test_lazy_listing_loads_each_run_on_access(api: Any, server: LocalServer) -> None:
    """Protocol §3.4: the lazy listing has no heavy fields; ``run.config`` sends ``Run``."""
    runs = api.runs(PATH, per_page=4)
    first = next(iter(runs))
    assert operations(server)[-1] == "Runs"
    first.config  # noqa: B018 - triggers load_full_data
    assert operations(server)[-1] == "Run"
    assert server.requests[-1][1] == {"entity": ENTITY, "project": PROJECT, "name": first.id}


def test_full_listing_upgrade_reuses_cache(api: Any, server: LocalServer) -> None:
    """``lazy=False`` on a cached lazy ``Runs`` upgrades it with one ``Run`` per loaded run."""
    lazy = api.runs(PATH, per_page=5)
    loaded = [r.id for _, r in zip(range(5), lazy, strict=False)]
    server.clear_requests()
    api.runs(PATH, per_page=5, lazy=False)
    assert sorted(v["name"] for n, v in server.requests if n == "Run") == sorted(loaded)


def test_wrong_api_key_is_rejected(wandb_env: Path, server: LocalServer) -> None:
    import wandb

    server.clear_requests()
    bad = "local-" + "x" * 40
    try:
        wandb.Api(api_key=bad, overrides={"base_url": server.url}, timeout=5)
    except Exception as exc:  # the official client raises its own AuthenticationError
        assert "auth" in type(exc).__name__.lower() or "401" in str(exc) or "key" in str(exc).lower()
    else:
        raise AssertionError("wandb.Api accepted a wrong API key")
    assert operations(server) == [], "unauthenticated requests are not logged as operations"
