"""Transport behaviour over real HTTP with scripted replies: retries, deadlines, error typing."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from tests.client.scripted import scripted_server
from wandb_frames.api import Api
from wandb_frames.errors import (
    GraphQLError,
    HTTPStatusError,
    ProtocolError,
    RateLimitError,
    TransportError,
)
from wandb_frames.graphql import documents
from wandb_frames.graphql.transport import RetryPolicy, accept_encoding

KEY = "local-" + "s" * 40
OK = (200, {"Content-Type": "application/json"}, orjson.dumps({"data": {"viewer": {"id": "u", "entity": "me"}}}))
FAST = RetryPolicy(max_attempts=5, deadline=10.0, base_delay=0.01, max_delay=0.05)


def _api(url: str, retry: RetryPolicy = FAST, **kw: object) -> Api:
    return Api(api_key=KEY, overrides={"base_url": url}, retry=retry, progress=False, **kw)  # type: ignore[arg-type]


def test_request_shape_auth_and_user_agent() -> None:
    with scripted_server([OK]) as srv:
        api = _api(srv["url"], user_agent="my-agent/1")
        assert api.default_entity == "me"
        body = orjson.loads(srv["bodies"][0])
        headers = srv["headers"][0]
    assert list(body) == ["query", "variables", "operationName"]
    assert body["operationName"] == "GetDefaultEntity" and body["variables"] == {}
    assert body["query"] == documents.DEFAULT_ENTITY.text
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    assert headers["User-Agent"] == "my-agent/1"
    # loopback: compression only costs CPU (remote servers are asked for gzip, see below)
    assert headers["Accept-Encoding"] == "identity"


def test_accept_encoding_is_gzip_for_remote_servers() -> None:
    assert "gzip" in accept_encoding("https://api.wandb.ai")
    assert accept_encoding("http://localhost:8080") == "identity"
    assert accept_encoding("http://[::1]:8080") == "identity"


def test_429_and_5xx_are_retried_then_succeed() -> None:
    replies = [(429, {"Retry-After": "0"}, b"{}"), (503, {}, b"busy"), (502, {}, b""), OK]
    with scripted_server(replies) as srv:
        assert _api(srv["url"]).default_entity == "me"
        assert srv["count"] == 4


def test_retry_after_is_honoured() -> None:
    with scripted_server([(429, {"Retry-After": "0.3"}, b"{}"), OK]) as srv:
        start = time.monotonic()
        _api(srv["url"], RetryPolicy(base_delay=0.001, max_delay=5)).viewer  # noqa: B018
        assert time.monotonic() - start >= 0.3


def test_persistent_429_is_waited_out_until_the_deadline_then_a_rate_limit_error() -> None:
    """A rate limit never counts as a failed attempt: only the overall deadline ends the wait."""
    with scripted_server([(429, {"Retry-After": "0.01"}, b"{}")]) as srv:
        with pytest.raises(RateLimitError) as info:
            _api(srv["url"], RetryPolicy(max_attempts=3, base_delay=0.01, deadline=0.5)).viewer  # noqa: B018
        assert srv["count"] > 3  # far more than max_attempts: the 429s were not counted
    assert info.value.retry_after == pytest.approx(0.01)
    assert info.value.operation == "Viewer"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(status: int) -> None:
    with scripted_server([(status, {}, b'{"errors": [{"message": "nope"}]}')]) as srv:
        with pytest.raises(HTTPStatusError) as info:
            _api(srv["url"]).viewer  # noqa: B018
        assert srv["count"] == 1
    assert info.value.status_code == status
    # no requests object is chained: it would keep the request (and its Authorization) reachable
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_graphql_errors_on_200_raise_at_once_with_partial_data() -> None:
    payload = {"data": {"viewer": None}, "errors": [{"message": "boom", "path": ["viewer"]}]}
    with scripted_server([(200, {}, orjson.dumps(payload))]) as srv:
        with pytest.raises(GraphQLError) as info:
            _api(srv["url"]).viewer  # noqa: B018
        assert srv["count"] == 1
    assert info.value.operation == "Viewer" and "boom" in str(info.value)
    assert info.value.data == {"viewer": None} and info.value.errors[0]["message"] == "boom"


def test_non_json_answer_is_a_protocol_error() -> None:
    with scripted_server([(200, {"Content-Type": "text/html"}, b"<html>")]) as srv:
        with pytest.raises(ProtocolError):
            _api(srv["url"]).viewer  # noqa: B018


def test_overall_deadline_bounds_retries() -> None:
    with scripted_server([(500, {}, b"")]) as srv:
        start = time.monotonic()
        with pytest.raises(HTTPStatusError) as info:
            _api(srv["url"], RetryPolicy(max_attempts=100, deadline=0.5, base_delay=0.05, max_delay=0.1)).viewer  # noqa: B018
        assert time.monotonic() - start < 2.0
    assert info.value.status_code == 500


def test_connection_refused_is_a_transport_error_after_retries() -> None:
    with scripted_server([OK]) as srv:
        url = srv["url"]
    with pytest.raises(TransportError) as info:
        _api(url, RetryPolicy(max_attempts=2, base_delay=0.01)).viewer  # noqa: B018
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "ConnectionError" in str(info.value) and info.value.operation == "Viewer"
    assert KEY not in str(info.value)


def test_gql_client_uses_the_same_transport() -> None:
    with scripted_server([OK]) as srv:
        api = _api(srv["url"])
        data = api.client.execute(documents.DEFAULT_ENTITY.request())
        assert data == {"viewer": {"id": "u", "entity": "me"}}
        assert orjson.loads(srv["bodies"][0])["operationName"] == "GetDefaultEntity"
    assert Api.VIEWER_QUERY.operation_name == "Viewer"
