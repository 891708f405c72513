"""The transport's session remembers requests' environment settings, and still follows the variables."""

from __future__ import annotations

import pytest
import requests

from wandb_frames.graphql.credentials import _SETTINGS_ENVIRON, OriginSession

URLS = ["https://api.example.test/graphql", "http://localhost:8080/graphql", "https://files.other.test/a.parquet"]
ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.test:3128"},
    {"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": "example.test,localhost"},
    {"https_proxy": "http://other.test:1", "HTTP_PROXY": "http://plain.test:2"},
    {"ALL_PROXY": "socks5://all.test:1080", "no_proxy": "*"},
    {"HTTP_PROXY": "http://plain.test:2", "REQUEST_METHOD": "GET"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/ca.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
]


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=lambda e: ",".join(e) or "none")
def test_same_answer_as_requests_as_the_variables_change(monkeypatch: pytest.MonkeyPatch,
                                                         environment: dict[str, str]) -> None:
    session, plain = OriginSession(), requests.Session()
    # one session across the changes: what it remembered under the old variables must not leak
    for before in ({}, {"HTTPS_PROXY": "http://stale.test:9"}, environment):
        for name in _SETTINGS_ENVIRON:
            monkeypatch.delenv(name, raising=False)
        for name, value in before.items():
            monkeypatch.setenv(name, value)
        for url in URLS * 2:
            for verify in (None, False, "/my/ca.pem"):
                ours = session.merge_environment_settings(url, {}, None, verify, None)
                assert ours == plain.merge_environment_settings(url, {}, None, verify, None), (before, url)


def test_explicit_proxies_and_session_settings_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    session = OriginSession()
    url = URLS[0]
    assert session.merge_environment_settings(url, {}, None, None, None)["proxies"]["https"] == "http://proxy.test:3128"
    given = session.merge_environment_settings(url, {"https": "http://given.test:1"}, None, None, None)
    assert given["proxies"]["https"] == "http://given.test:1"
    plain = requests.Session()
    for verify in ("/session/ca.pem", False):  # remembered under the session's settings too
        session.verify = plain.verify = verify
        assert (session.merge_environment_settings(url, {}, None, None, None)
                == plain.merge_environment_settings(url, {}, None, None, None))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session.verify = "/session/ca.pem"
    assert session.merge_environment_settings(url, {}, None, None, None)["verify"] == "/session/ca.pem"
    session.trust_env = False
    assert session.merge_environment_settings(url, {}, None, None, None)["proxies"] == {}
    # the answer is a copy: changing it changes nothing remembered
    session.trust_env = True
    answer = session.merge_environment_settings(url, {}, None, None, None)
    answer["proxies"]["https"] = "http://changed.test:1"
    assert session.merge_environment_settings(url, {}, None, None, None)["proxies"]["https"] == "http://proxy.test:3128"
