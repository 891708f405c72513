"""Test routes of the local server: a path answered with a redirect or an echo of the request."""

from __future__ import annotations

import pytest
import requests

from wandb_frames.testing import Echo, LocalServer, Redirect


def test_redirect_and_echo_routes_and_their_removal(fresh: LocalServer) -> None:
    fresh.route("/somewhere", Redirect(308, "/healthz"))
    answer = requests.get(f"{fresh.url}/somewhere", allow_redirects=False, timeout=10)
    assert answer.status_code == 308 and answer.headers["Location"] == "/healthz"
    assert requests.get(f"{fresh.url}/somewhere", timeout=10).text == "ok"  # followed

    fresh.route("/graphql", Echo(418, as_json=False))
    echoed = requests.post(f"{fresh.url}/graphql", data=b"hello", headers={"X-Probe": "1"}, timeout=10)
    assert echoed.status_code == 418
    assert echoed.text.startswith("POST /graphql HTTP/1.1") and "X-Probe: 1" in echoed.text
    assert echoed.text.endswith("hello")

    fresh.route("/graphql", Echo(200))
    payload = requests.post(f"{fresh.url}/graphql", json={}, timeout=10).json()
    assert payload["data"] is None and "POST /graphql" in payload["errors"][0]["message"]

    fresh.route("/graphql", None)
    fresh.route("/somewhere", None)
    assert fresh.routes == {}
    assert requests.post(f"{fresh.url}/graphql", json={}, timeout=10).status_code == 401  # served again


def test_route_arguments_are_checked(fresh: LocalServer) -> None:
    with pytest.raises(ValueError, match="not a redirect status"):
        Redirect(200, "/x")
    with pytest.raises(TypeError):
        fresh.route("/x", "not a route")  # type: ignore[arg-type]
