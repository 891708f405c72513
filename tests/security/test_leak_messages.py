"""No text the client produces holds the key: error messages when the server echoes the request
(as debug error pages and some proxies do), everything reachable from the raised errors
(causes, contexts, attributes, traceback locals), reprs, CLI output; DEBUG logs are checked
after every test by the conftest.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from leak_support import (
    ENTITY, FAST, FORMS, KEY, PROJECT, encodings, leaks_from, leaks_in, netrc_api,
)

from wandb_frames.api import Api
from wandb_frames.cli import main
from wandb_frames.errors import ApiError, AuthenticationError, GraphQLError, HTTPStatusError, TransportError
from wandb_frames.graphql import documents
from wandb_frames.graphql.credentials import key_forms, scrub, scrub_value
from wandb_frames.testing import Echo, LocalServer

RUN = f"{ENTITY}/{PROJECT}/h1"
ECHOES = {
    "400-json": (Echo(400), HTTPStatusError),
    "400-text": (Echo(400, as_json=False), HTTPStatusError),
    "401-json": (Echo(401), AuthenticationError),
    "403-text": (Echo(403, as_json=False), AuthenticationError),
    "404-json": (Echo(404), HTTPStatusError),
    "500-json": (Echo(500), HTTPStatusError),
    "502-text": (Echo(502, as_json=False), HTTPStatusError),
    "200-errors": (Echo(200), GraphQLError),
}
CALLS: dict[str, Callable[[Api], Any]] = {
    "viewer": lambda api: api.viewer,
    "runs": lambda api: api.runs(f"{ENTITY}/{PROJECT}").to_arrow(),
    "run": lambda api: api.run(RUN),
    "gql client": lambda api: api.client.execute(documents.VIEWER.request()),
    "projects": lambda api: list(api.projects(ENTITY)),
}


def _check(error: BaseException) -> None:
    assert isinstance(error, ApiError) and error.operation, "the error names its operation"
    assert leaks_from(error) == []
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize("echo", ECHOES)
@pytest.mark.parametrize("call", CALLS)
def test_echoed_requests_leave_no_key_in_errors(api_server: LocalServer, echo: str, call: str) -> None:
    answer, kind = ECHOES[echo]
    api = netrc_api(api_server)
    api_server.route("/graphql", answer)
    with pytest.raises(kind) as info:
        CALLS[call](api)
    _check(info.value)
    assert "Authorization: Basic ***" in str(info.value)  # the echo held the key; it was scrubbed
    if isinstance(info.value, GraphQLError):
        assert info.value.errors and not leaks_in(repr(info.value.errors))


def test_the_echo_really_carries_the_key(api_server: LocalServer) -> None:
    """The hunt's premise: without scrubbing, these answers would hold the Basic token."""
    api_server.route("/graphql", Echo(400, as_json=False))
    answer = requests.post(f"{api_server.url}/graphql", json={},
                           headers={"Authorization": f"Basic {FORMS['basic api:KEY']}"}, timeout=10)
    assert "basic api:KEY" in leaks_in(answer.text)


@pytest.mark.parametrize("echo", ["500-json", "400-text"])
def test_echoed_downloads_leave_no_key_in_errors(api_server: LocalServer, echo: str) -> None:
    api = netrc_api(api_server)
    file = api.run(RUN).file("out.txt")
    assert file.url is not None
    api_server.route(file.url[len(api_server.url):], ECHOES[echo][0])
    with pytest.raises(HTTPStatusError) as info:
        file.read_bytes()
    _check(info.value)
    assert "***" in str(info.value)


def test_connection_failures_leave_no_key(api_server: LocalServer) -> None:
    closed = LocalServer(api_key=KEY).start()
    url = closed.url
    closed.stop()
    api = Api(overrides={"base_url": url}, progress=False, retry=FAST)
    with pytest.raises(TransportError) as info:
        api.viewer  # noqa: B018
    _check(info.value)


def test_reprs_and_strs_hold_no_key(api_server: LocalServer, tmp_path: Any) -> None:
    api = netrc_api(api_server, cache=tmp_path / "cache")
    runs = api.runs(f"{ENTITY}/{PROJECT}")
    runs.to_arrow()
    run = api.run(RUN)
    files = run.files()
    objects: list[object] = [
        api, api.settings, api.transport, api.transport._auth, api.transport.session, api.client,
        api.cache, runs, run, files, list(files), run.file("out.txt"), runs.history_frames(),
        api.projects(ENTITY), api.project(PROJECT, ENTITY),
    ]
    for obj in objects:
        for text in (repr(obj), str(obj)):
            assert not leaks_in(text), (type(obj).__name__, leaks_in(text))


def test_cli_output_holds_no_key(api_server: LocalServer, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", api_server.url)
    monkeypatch.setenv("WANDB_FRAMES_CACHE_DIR", str(tmp_path / "cache"))
    outputs = []
    assert main(["runs", f"{ENTITY}/{PROJECT}", "--no-progress"]) == 0
    outputs.append(capsys.readouterr())
    assert main(["history", f"{ENTITY}/{PROJECT}", "--no-progress"]) == 0
    outputs.append(capsys.readouterr())
    assert main(["cache", "info"]) == 0
    outputs.append(capsys.readouterr())
    for answer in (Echo(401), Echo(400, as_json=False), Echo(200)):  # 5xx: retried for minutes
        api_server.route("/graphql", answer)
        for extra in ([], ["--debug"]):
            assert main(["runs", f"{ENTITY}/{PROJECT}", "--no-progress", *extra]) != 0
            captured = capsys.readouterr()
            if extra:  # the whole message (the one-line form stops at the echo's first line)
                assert "Authorization: Basic ***" in captured.err  # the echo was there, scrubbed
            outputs.append(captured)
    for captured in outputs:
        assert not leaks_in(captured.out) and not leaks_in(captured.err), captured


# ----------------------------------------------------------------------------- the scrubber
KEYS = st.text(alphabet=string.ascii_letters + string.digits + "-_+/=:%& é", min_size=8, max_size=60)


@given(key=KEYS, before=st.text(max_size=20), after=st.text(max_size=20))
def test_scrub_removes_every_encoding(key: str, before: str, after: str) -> None:
    for form in encodings(key).values():
        text = scrub(f"{before}{form}{after}", key)
        assert form not in text
        assert not [f for f in encodings(key).values() if f in text and f not in before + after]


@given(key=KEYS)
def test_scrub_value_reaches_nested_strings_and_keys(key: str) -> None:
    token = encodings(key)["basic api:KEY"]
    value = {"errors": [{"message": f"Authorization: Basic {token}", f"Bearer {key}": [key]}], "n": 1}
    cleaned = repr(scrub_value(value, key))
    assert token not in cleaned and key not in cleaned and "'n': 1" in cleaned


def test_key_forms_cover_the_hunts_encodings() -> None:
    assert set(encodings(KEY).values()) <= set(key_forms(KEY))
    assert key_forms(None) == () and scrub("text", None) == "text"
