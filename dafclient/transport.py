"""HTTP transport: token attachment, timeouts, pooled httpx clients.

One httpx client (sync or async) is shared by all service clients of a FrameworkClient. The token
is attached by :class:`TokenAuth` only to the DAF servers of that client; retries and the overall
deadline of each request are :mod:`dafclient.retrying`'s.
"""

from __future__ import annotations

from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

from dafclient import __version__
from dafclient.config import RetrySettings, Timeouts
from dafclient.retrying import AsyncRetryingClient, RetryingClient, RetryPolicy


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, with the default port filled in."""
    parts = urlsplit(str(url))
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class TrustedServers:
    """The origins a token may be sent to: the client's DAF servers, and nothing else."""

    def __init__(self, *servers: str) -> None:
        self._origins: set[tuple[str, str, int]] = set()
        for server in servers:
            self.add(server)

    def add(self, server: str) -> None:
        self._origins.add(origin(server))

    def __contains__(self, url: object) -> bool:
        return isinstance(url, (str, httpx.URL)) and origin(url) in self._origins

    def __repr__(self) -> str:
        names = sorted(f"{s}://{h}:{p}" for s, h, p in self._origins)
        return f"TrustedServers({', '.join(names)})"


class TokenAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>`` to requests for trusted DAF servers only.

    Redirects are not followed by dafclient's clients; if a caller enables them, httpx drops the
    header when the redirect leaves the origin.
    """

    def __init__(self, token: str | None, trusted: TrustedServers) -> None:
        self._token = token
        self.trusted = trusted

    @property
    def token(self) -> str | None:
        return self._token

    def set_token(self, token: str | None) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token and request.url in self.trusted:
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        state = "set" if self._token else "none"
        return f"TokenAuth(token={state}, trusted={self.trusted!r})"


def _timeout(timeouts: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )


HEADERS = {"User-Agent": f"dafclient/{__version__}"}
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)


def build_sync_client(
    auth: TokenAuth,
    timeouts: Timeouts,
    retries: RetrySettings,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The pooled sync client shared by every service client of one FrameworkClient."""
    return RetryingClient(
        policy=RetryPolicy(retries, deadline=timeouts.total),
        auth=auth,
        transport=transport or httpx.HTTPTransport(limits=LIMITS),
        timeout=_timeout(timeouts),
        headers=HEADERS,
        follow_redirects=False,
    )


def build_async_client(
    auth: TokenAuth,
    timeouts: Timeouts,
    retries: RetrySettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The pooled async client shared by every service client of one AsyncFrameworkClient."""
    return AsyncRetryingClient(
        policy=RetryPolicy(retries, deadline=timeouts.total),
        auth=auth,
        transport=transport or httpx.AsyncHTTPTransport(limits=LIMITS),
        timeout=_timeout(timeouts),
        headers=HEADERS,
        follow_redirects=False,
    )
