"""The key reaches the API's origin only: never a second server on another port of the same host,
whether reached by a file URL, a redirect of a GET or a redirect of a POST, with the key from
``~/.netrc`` (the conftest) or passed explicitly. Every raised error is walked for the key.
"""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest
import requests
from leak_support import ENTITY, FAST, FORMS, KEY, PROJECT, ForeignServer, leaks_from, netrc_api

from wandb_frames.api import Api
from wandb_frames.errors import HTTPStatusError
from wandb_frames.history.fetch import load_query
from wandb_frames.testing import Echo, LocalServer, Redirect

REDIRECTS = [301, 302, 303, 307, 308]
BASIC = f"Authorization: Basic {FORMS['basic api:KEY']}"  # what the API origin receives
RUN = f"{ENTITY}/{PROJECT}/h1"


def explicit_api(server: LocalServer) -> Api:
    return Api(api_key=KEY, overrides={"base_url": server.url}, progress=False, retry=FAST)


APIS = {"netrc": netrc_api, "explicit": explicit_api}


def file_path(api: Api, name: str) -> str:
    url = api.run(RUN).file(name).url
    assert url is not None and url.startswith(api.settings.base_url)
    return url[len(api.settings.base_url):]


@pytest.mark.parametrize("source", APIS)
def test_a_file_url_on_another_port_gets_no_credentials(
    api_server: LocalServer, foreign: ForeignServer, source: str
) -> None:
    api = APIS[source](api_server)
    assert api.transport.get_bytes(f"{foreign.url}/file.bin") == b"foreign bytes\n"
    assert len(foreign.seen) == 1
    assert foreign.credentials_received() == []


@pytest.mark.parametrize("source", APIS)
def test_the_transport_session_used_directly_sends_no_netrc_credentials_elsewhere(
    api_server: LocalServer, foreign: ForeignServer, source: str
) -> None:
    api = APIS[source](api_server)
    session = api.transport.session
    assert session.get(f"{foreign.url}/file.bin", timeout=10).content == b"foreign bytes\n"
    api_server.route(file_path(api, "out.txt"), Redirect(307, f"{foreign.url}/file.bin"))
    # requests follows this redirect itself; the hop elsewhere carries nothing
    assert session.get(api.run(RUN).file("out.txt").url, timeout=10).content == b"foreign bytes\n"
    api_server.route("/whoami", Echo(200, as_json=False))
    foreign.redirects["/bounce"] = f"{api_server.url}/whoami"  # a hop back to the API: the key again
    assert BASIC in session.get(f"{foreign.url}/bounce", timeout=10).text
    assert len(foreign.seen) == 3
    assert foreign.credentials_received() == []


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("source", APIS)
def test_a_download_redirected_to_another_port_arrives_without_credentials(
    api_server: LocalServer, foreign: ForeignServer, status: int, source: str
) -> None:
    api = APIS[source](api_server)
    api_server.route(file_path(api, "out.txt"), Redirect(status, f"{foreign.url}/file.bin"))
    file = api.run(RUN).file("out.txt")
    assert file.read_bytes() == b"foreign bytes\n"
    assert [s.method for s in foreign.seen] == ["GET"]
    assert foreign.credentials_received() == []


@pytest.mark.parametrize("status", [302, 307, 308])
def test_history_parquet_redirected_to_another_port_arrives_without_credentials(
    api_server: LocalServer, foreign: ForeignServer, status: int
) -> None:
    api = netrc_api(api_server)
    ids = {"entity": ENTITY, "project": PROJECT, "run": "h2", "liveKeys": ["_step"]}
    data = api.execute(load_query("RunParquetHistory"), ids, operation="RunParquetHistory")
    (url,) = data["project"]["run"]["parquetHistory"]["parquetUrls"]
    foreign.files["/h2.parquet"] = requests.get(url, timeout=10).content  # the export, served elsewhere
    api_server.route(url[len(api_server.url):], Redirect(status, f"{foreign.url}/h2.parquet"))
    table = api.run(f"{ENTITY}/{PROJECT}/h2").history_table()
    assert table.num_rows > 0
    assert [s.path for s in foreign.seen] == ["/h2.parquet"]
    assert foreign.credentials_received() == []
    assert pq.read_table(io.BytesIO(foreign.files["/h2.parquet"])).num_rows == 6


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("source", APIS)
def test_a_graphql_post_is_never_redirected_to_another_origin(
    api_server: LocalServer, foreign: ForeignServer, status: int, source: str
) -> None:
    api = APIS[source](api_server)
    api_server.route("/graphql", Redirect(status, f"{foreign.url}/graphql"))
    with pytest.raises(HTTPStatusError) as info:
        api.runs(f"{ENTITY}/{PROJECT}").to_arrow()
    assert info.value.status_code == status
    message = str(info.value)
    assert "redirected" in message and foreign.url in message and info.value.operation
    assert foreign.seen == []  # not a request, with or without the key
    assert leaks_from(info.value) == []


@pytest.mark.parametrize("status", [307, 308])
def test_a_post_redirect_within_the_origin_is_followed_with_credentials(
    api_server: LocalServer, status: int
) -> None:
    api = netrc_api(api_server)
    api_server.route("/graphql", Redirect(status, "/graphql/"))  # the same endpoint, another spelling
    assert api.runs(f"{ENTITY}/{PROJECT}").to_arrow().num_rows == 4


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_post_redirect_that_would_become_a_get_is_an_error(api_server: LocalServer, status: int) -> None:
    api = netrc_api(api_server)
    api_server.route("/graphql", Redirect(status, "/graphql/"))
    with pytest.raises(HTTPStatusError) as info:
        api.runs(f"{ENTITY}/{PROJECT}").to_arrow()
    assert info.value.status_code == status and "base_url" in str(info.value)
    assert leaks_from(info.value) == []


def test_another_scheme_of_the_same_host_is_another_origin(api_server: LocalServer,
                                                           foreign: ForeignServer) -> None:
    from wandb_frames.graphql.credentials import same_origin

    base = api_server.url
    port = base.rsplit(":", 1)[1]
    assert same_origin(f"{base}/files/x", base)
    assert not same_origin(f"https://127.0.0.1:{port}/files/x", base)
    assert not same_origin(f"{foreign.url}/files/x", base)
    assert not same_origin(f"{base}0/files/x", base)  # a prefix of the text, not the origin
    assert not same_origin(f"http://localhost:{port}/files/x", base)


def test_a_chain_of_redirects_through_another_origin_and_back(
    api_server: LocalServer, foreign: ForeignServer
) -> None:
    """API file → 302 → foreign → 302 → API: the foreign hop carries nothing, the last the key."""
    api = netrc_api(api_server)
    api_server.route("/whoami", Echo(200, as_json=False))
    foreign.redirects["/bounce"] = f"{api_server.url}/whoami"
    api_server.route(file_path(api, "out.txt"), Redirect(302, f"{foreign.url}/bounce"))
    assert BASIC in api.run(RUN).file("out.txt").read_bytes().decode()
    assert [s.path for s in foreign.seen] == ["/bounce"]
    assert foreign.credentials_received() == []


def test_proxies_from_the_environment_still_apply(api_server: LocalServer, foreign: ForeignServer,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """``trust_env`` stays on for what it is good for: ``HTTP_PROXY`` routes a download through
    the proxy (here the foreign server), which sees no credentials for another origin."""
    elsewhere = "http://files.example.invalid/file.bin"
    foreign.files[elsewhere] = b"via proxy\n"  # a proxy receives the absolute URL
    monkeypatch.setenv("HTTP_PROXY", foreign.url)
    monkeypatch.setenv("NO_PROXY", "")
    api = netrc_api(api_server)
    assert api.transport.get_bytes(elsewhere) == b"via proxy\n"
    assert [s.path for s in foreign.seen] == [elsewhere]
    assert foreign.credentials_received() == []
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # the log check saw traffic
