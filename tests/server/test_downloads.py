"""Presigned-like downloads (parquet history, run files): HTTP ``Range``, ``HEAD`` and gzip."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from server_support import ENTITY, PROJECT, Client

from wandb_frames.testing import LocalServer
from wandb_frames.testing.downloads import Unsatisfiable, byte_range


@pytest.fixture(scope="module")
def parquet(gql: Client) -> Iterator[tuple[str, bytes]]:
    """The URL of run001's parquet file and its full (identity) body."""
    doc = ("query($e: String!, $p: String!) { project(name: $p, entityName: $e) { run(name: \"run001\") "
           "{ parquetHistory(liveKeys: [\"_step\"]) { parquetUrls } } } }")
    (url,) = gql(doc, {"e": ENTITY, "p": PROJECT})["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
    body = requests.get(url, timeout=10, headers={"Accept-Encoding": "identity"}).content
    assert body[:4] == b"PAR1" and len(body) > 1024
    yield url, body


def _get(url: str, range_: str, method: str = "GET") -> requests.Response:
    return requests.request(method, url, timeout=10, headers={"Range": range_, "Accept-Encoding": "gzip"})


@pytest.mark.parametrize(("spec", "lo", "hi"), [
    ("bytes=0-3", 0, 3), ("bytes=10-19", 10, 19), ("bytes=-8", -8, None), ("bytes=100-", 100, None),
])
def test_range_is_answered_with_206(parquet: tuple[str, bytes], spec: str, lo: int, hi: int | None) -> None:
    url, body = parquet
    response = _get(url, spec)
    assert response.status_code == 206
    start = lo if lo >= 0 else len(body) + lo
    end = len(body) - 1 if hi is None else hi
    assert response.content == body[start:end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(body)}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in response.headers


def test_range_end_past_the_file_is_clamped(parquet: tuple[str, bytes]) -> None:
    url, body = parquet
    response = _get(url, f"bytes={len(body) - 5}-{len(body) + 100}")
    assert response.status_code == 206 and response.content == body[-5:]
    assert response.headers["Content-Range"] == f"bytes {len(body) - 5}-{len(body) - 1}/{len(body)}"


@pytest.mark.parametrize("spec", ["bytes={n}-", "bytes={n}-{m}", "bytes=-0"])
def test_unsatisfiable_range_is_416(parquet: tuple[str, bytes], spec: str) -> None:
    url, body = parquet
    response = _get(url, spec.format(n=len(body), m=len(body) + 10))
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(body)}"


@pytest.mark.parametrize("spec", ["items=0-3", "bytes=5-2", "bytes=0-1,4-5", "bytes=x-"])
def test_unsupported_or_malformed_range_gets_the_whole_file(parquet: tuple[str, bytes], spec: str) -> None:
    url, body = parquet
    response = requests.get(url, timeout=10, headers={"Range": spec, "Accept-Encoding": "identity"})
    assert response.status_code == 200 and response.content == body


def test_full_get_is_gzipped_when_accepted_and_advertises_ranges(parquet: tuple[str, bytes]) -> None:
    url, body = parquet
    response = requests.get(url, timeout=10, headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = response.raw.read(decode_content=False)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == body
    assert response.headers["Accept-Ranges"] == "bytes"


def test_head_gives_the_identity_length(parquet: tuple[str, bytes]) -> None:
    url, body = parquet
    response = requests.head(url, timeout=10, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in response.headers
    ranged = _get(url, "bytes=0-9", method="HEAD")
    assert ranged.status_code == 206 and ranged.headers["Content-Length"] == "10"


def test_run_files_honour_range(server: LocalServer, gql: Client) -> None:
    doc = ("query($e: String!, $p: String!) { project(name: $p, entityName: $e) { run(name: \"run001\") "
           "{ files(names: [\"output.log\"]) { edges { node { url } } } } } }")
    url = gql(doc, {"e": ENTITY, "p": PROJECT})["data"]["project"]["run"]["files"]["edges"][0]["node"]["url"]
    response = _get(url, "bytes=2-3")
    assert response.status_code == 206 and response.content == b"b\n"
    assert _get(server.url + "/parquet/nope/x/y/z.parquet", "bytes=0-1").status_code == 404


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 50), first=st.integers(0, 60), last=st.one_of(st.none(), st.integers(0, 60)))
def test_byte_range_matches_slicing(size: int, first: int, last: int | None) -> None:
    header = f"bytes={first}-{'' if last is None else last}"
    body = bytes(range(size))
    if last is not None and last < first:
        assert byte_range(header, size) is None
    elif first >= size:
        with pytest.raises(Unsatisfiable):
            byte_range(header, size)
    else:
        lo, hi = byte_range(header, size) or (-1, -1)
        assert body[lo:hi + 1] == body[first:None if last is None else last + 1]
