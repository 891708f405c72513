"""Settings resolution, paths, retry delays, progress switch: pure functions, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.api import Api, split_project_path, split_run_path
from wandb_frames.errors import ConfigurationError
from wandb_frames.graphql.transport import RetryPolicy, parse_retry_after, retry_delay
from wandb_frames.progress import progress_enabled
from wandb_frames.settings import DEFAULT_BASE_URL, app_url, resolve_settings

KEY = "local-" + "k" * 40


def test_api_key_argument_wins_over_env_and_netrc(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai login user password from-netrc\n")
    s = resolve_settings(api_key="from-arg", environ={"WANDB_API_KEY": "from-env"}, netrc_path=netrc)
    assert s.api_key == "from-arg"
    s = resolve_settings(environ={"WANDB_API_KEY": "from-env"}, netrc_path=netrc)
    assert s.api_key == "from-env"
    s = resolve_settings(environ={}, netrc_path=netrc)
    assert s.api_key == "from-netrc"


def test_netrc_entry_follows_base_url_host(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai login u password cloud\nmachine 127.0.0.1 login u password local\n")
    s = resolve_settings({"base_url": "http://127.0.0.1:8080/"}, environ={}, netrc_path=netrc)
    assert (s.api_key, s.base_url) == ("local", "http://127.0.0.1:8080")
    assert resolve_settings(environ={}, netrc_path=tmp_path / "absent").api_key is None


def test_base_url_entity_project_timeout_resolution() -> None:
    env = {"WANDB_BASE_URL": "https://wandb.example.com", "WANDB_ENTITY": "team",
           "WANDB_PROJECT": "proj", "WANDB_HTTP_TIMEOUT": "7"}
    s = resolve_settings(environ=env)
    assert (s.base_url, s.entity, s.project, s.timeout) == ("https://wandb.example.com", "team", "proj", 7.0)
    s = resolve_settings({"base_url": "http://h:1", "entity": "e", "project": "p"}, timeout=3, environ=env)
    assert (s.base_url, s.entity, s.project, s.timeout) == ("http://h:1", "e", "p", 3.0)
    assert resolve_settings(environ={}).base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("overrides", "kwargs"),
    [({"base_url": "ftp://x"}, {}), ({"bogus": 1}, {}), ({}, {"timeout": -1}), ({}, {"timeout": "x"})],
)
def test_bad_settings_raise_configuration_error(overrides: dict[str, object], kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        resolve_settings(overrides, environ={}, **kwargs)  # type: ignore[arg-type]


def test_api_key_never_in_repr_or_str() -> None:
    s = resolve_settings(api_key=KEY, environ={})
    api = Api(api_key=KEY, overrides={"base_url": "http://127.0.0.1:9"})
    for text in (repr(s), str(s), repr(api), str(api), repr(api.transport)):
        assert KEY not in text
    assert api.api_key == KEY


def test_app_url_drops_api_prefix() -> None:
    assert app_url("https://api.wandb.ai") == "https://wandb.ai"
    assert app_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("path", "expected"),
    [("e/p", ("e", "p")), ("p", (None, "p")), ("", (None, None)), ("/e/p/", ("e", "p")),
     ("https://wandb.ai/e/p", ("e", "p"))],
)
def test_split_project_path(path: str, expected: tuple[str | None, str | None]) -> None:
    assert split_project_path(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("e/p/r", ("e", "p", "r")), ("e/p/runs/r", ("e", "p", "r")), ("p/r", (None, "p", "r")),
     ("r", (None, None, "r")), ("https://wandb.ai/e/p/runs/r", ("e", "p", "r"))],
)
def test_split_run_path(path: str, expected: tuple[str | None, str | None, str]) -> None:
    assert split_run_path(path) == expected


@pytest.mark.parametrize("path", ["", "a/b/c/d/e"])
def test_bad_run_path_raises(path: str) -> None:
    with pytest.raises(ConfigurationError):
        split_run_path(path)


def test_project_path_with_too_many_parts_raises() -> None:
    with pytest.raises(ConfigurationError):
        split_project_path("a/b/c")


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=10), usegmt=True), now=now) == 10.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=10), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@settings(max_examples=60, deadline=None)
@given(attempt=st.integers(1, 30), u=st.floats(0, 0.999), after=st.none() | st.floats(0, 1000))
def test_retry_delay_is_bounded(attempt: int, u: float, after: float | None) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=0.25)
    delay = retry_delay(attempt, policy, after, rand=lambda: u)
    assert 0 <= delay <= max(after or 0.0, policy.max_delay * (1 + policy.jitter))
    if after is not None:
        assert delay == after  # the server's wait is honoured as given; the deadline decides
    else:
        assert delay >= min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))


def test_retry_delay_grows_exponentially_without_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=0.0)
    assert [retry_delay(n, policy) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_progress_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_FRAMES_PROGRESS", "1")
    assert progress_enabled() is True
    assert progress_enabled(False) is False
    monkeypatch.setenv("WANDB_FRAMES_PROGRESS", "off")
    assert progress_enabled() is False
    assert progress_enabled(True) is True
