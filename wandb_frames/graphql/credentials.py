"""The API key on the wire: sent only to the API's own origin, and never kept in a text.

Three rules, each in one place:

- **Where the key goes**: :class:`ApiKeyAuth` is the ``auth=`` of every request the
  transport sends. It sets ``Authorization`` only when the URL is on the API's origin
  (scheme, host and port, under the base URL's path) and *removes* it everywhere else.
  Because a request always carries this ``auth``, ``requests`` never adds the ``~/.netrc``
  entry of the URL's host (it does so only for requests without one, and for any port of
  that host), while proxies and CA bundles from the environment keep working.
- **What a text may hold**: :func:`key_forms` lists the encodings of a key that can appear
  in an answer or message (raw, the Basic token of ``api:KEY``, URL-encoded);
  :func:`scrub` and :func:`scrub_value` replace every one of them.
- **What an object may hold**: :func:`forget_credentials` removes the credential headers
  from the request a ``requests`` response or exception keeps, once it is sent, so that
  nothing raised or logged later reaches them.
"""

from __future__ import annotations

import base64
import os
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import requests
from requests.auth import AuthBase

__all__ = [
    "CREDENTIAL_HEADERS",
    "ApiKeyAuth",
    "OriginSession",
    "basic_token",
    "forget_credentials",
    "key_forms",
    "origin",
    "same_origin",
    "scrub",
    "scrub_value",
]

#: Request headers that carry credentials (removed from sent requests kept by responses).
CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MASK = "***"


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port filled in.

    Examples:
        >>> origin("HTTPS://API.wandb.ai/graphql")
        ('https', 'api.wandb.ai', 443)
        >>> origin("http://127.0.0.1:8080")
        ('http', '127.0.0.1', 8080)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a malformed port: an origin of its own that matches nothing
        return scheme, (parts.hostname or "").lower(), -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _on_origin(url: str, base_origin: tuple[str, str, int | None], root: str) -> bool:
    if origin(url) != base_origin:
        return False
    path = urlsplit(url).path
    return not root or path == root or path.startswith(root + "/")


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the API server itself (same scheme, host, port and path root).

    Credentials are attached only then: a download URL that merely *starts with* the base
    URL's text (``http://host:4123`` vs ``http://host:41234``) is another server, and so
    is another port or scheme of the same host.

    Examples:
        >>> same_origin("http://h:4123/files/x", "http://h:4123")
        True
        >>> same_origin("http://h:41234/files/x", "http://h:4123")
        False
        >>> same_origin("https://h/graphql", "http://h")
        False
    """
    return _on_origin(url, origin(base_url), urlsplit(base_url).path.rstrip("/"))


def basic_token(key: str) -> str:
    """The Basic credentials W&B expects for ``key``: base64 of ``api:<key>``."""
    return base64.b64encode(f"api:{key}".encode()).decode("ascii")


def key_forms(key: str | None) -> tuple[str, ...]:
    """Every text form of ``key`` that may appear in an answer, URL or message, longest first.

    The raw key (so also ``Bearer <key>``), the Basic token ``base64("api:<key>")`` (standard
    and URL-safe, with and without padding), the key alone in base64, and its URL-encodings.
    """
    if not key:
        return ()
    forms = {key, quote(key, safe=""), quote_plus(key)}
    for raw in (f"api:{key}".encode(), key.encode()):
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            forms.update((text, text.rstrip("=")))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def scrub(text: str, key: str | None) -> str:
    """``text`` with every form of ``key`` (:func:`key_forms`) replaced by ``***``."""
    for form in key_forms(key):
        if form in text:
            text = text.replace(form, _MASK)
    return text


def scrub_value(value: Any, key: str | None) -> Any:
    """A copy of a decoded JSON value with every string scrubbed (:func:`scrub`), keys included."""
    if not key:
        return value
    if isinstance(value, str):
        return scrub(value, key)
    if isinstance(value, Mapping):
        return {scrub_value(k, key): scrub_value(v, key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v, key) for v in value]
    return value


def forget_credentials(sent: requests.Response | requests.RequestException | None) -> None:
    """Drop the credential headers of the request(s) ``sent`` keeps (a response or an exception).

    The request has left already; what stays behind is what an error reporter or a debugger
    could reach later (``exc.request.headers``, ``response.request.headers``).
    """
    if sent is None:
        return
    requests_kept: list[Any] = [getattr(sent, "request", None)]
    response = sent if isinstance(sent, requests.Response) else getattr(sent, "response", None)
    if response is not None:
        requests_kept.append(response.request)
        requests_kept.extend(r.request for r in response.history)
    for request in requests_kept:
        headers = getattr(request, "headers", None)
        if headers is not None:
            for name in CREDENTIAL_HEADERS:
                if name in headers:
                    del headers[name]


class ApiKeyAuth(AuthBase):
    """``requests`` auth that sends the API key to the API's origin and to nothing else.

    Args:
        base_url: The API root; URLs on its origin (see :func:`same_origin`) get the key.
        key: The API key, or None (then no request carries credentials).
    """

    def __init__(self, base_url: str, key: str | None) -> None:
        self._base_url = base_url
        self._origin = origin(base_url)
        self._root = urlsplit(base_url).path.rstrip("/")
        self._header = f"Basic {basic_token(key)}" if key else None

    def __repr__(self) -> str:
        return f"<ApiKeyAuth for {self._base_url}>"

    def applies_to(self, url: str) -> bool:
        """Whether a request to ``url`` carries the key."""
        return self._header is not None and _on_origin(url, self._origin, self._root)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set ``Authorization`` for the API's origin; remove any other credentials elsewhere."""
        if self._header is not None and _on_origin(request.url or "", self._origin, self._root):
            request.headers["Authorization"] = self._header
        elif "Authorization" in request.headers:
            del request.headers["Authorization"]
        return request


class OriginSession(requests.Session):
    """A ``requests.Session`` whose redirects re-decide credentials by its :class:`ApiKeyAuth`.

    ``requests`` follows redirects itself for code that uses the session directly (the
    transport follows them by hand), and on each hop re-adds the ``~/.netrc`` entry of the
    new URL's host, whatever the port. Here each hop gets what the session's auth gives it:
    the key on the API's origin, no ``Authorization`` anywhere else.
    """

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Drop the previous hop's ``Authorization``; apply the session's auth to the new URL."""
        prepared_request.headers.pop("Authorization", None)
        if isinstance(self.auth, ApiKeyAuth):
            self.auth(prepared_request)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:  # requests' private ``_Settings`` dict
        """``requests``' own answer, remembered per host while the variables it reads stay the same.

        ``requests`` scans the whole environment twice per request for proxy variables (about
        0.2 ms: a tenth of the client's CPU per run when histories come over loopback). The
        answer depends only on the URL's scheme and host, the session's settings, the
        ``*_proxy``/``no_proxy`` variables, ``REQUEST_METHOD`` and the CA bundle variables,
        so it is kept under exactly those; where proxies come from elsewhere (macOS system
        settings, the Windows registry) nothing is remembered.
        """
        if (not self.trust_env or proxies or not isinstance(url, str)
                or urllib.request.getproxies is not urllib.request.getproxies_environment):
            return dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc.rpartition("@")[2], repr((stream, verify, cert)),
               repr(sorted(self.proxies.items())), repr((self.stream, self.verify, self.cert)),
               tuple(os.environ.get(name) for name in _SETTINGS_ENVIRON))
        cache: dict[tuple[Any, ...], dict[str, Any]] = self.__dict__.setdefault("_environment_settings", {})
        found = cache.get(key)
        if found is None:
            found = dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
            if len(cache) >= 64:
                cache.clear()
            cache[key] = found
        return {**found, "proxies": dict(found["proxies"])}


#: What ``requests.Session.merge_environment_settings`` reads from the environment for an
#: http(s) URL (``urllib.request.getproxies_environment`` and ``proxy_bypass_environment``:
#: lower case first, then upper; ``REQUEST_METHOD`` turns ``HTTP_PROXY`` off under CGI).
_SETTINGS_ENVIRON = (
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
    "no_proxy", "NO_PROXY", "REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)
