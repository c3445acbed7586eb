"""HTTP transport: token attachment, retries with backoff, timeouts, pooled httpx clients.

One httpx client (sync or async) is shared by all service clients of a FrameworkClient. The token
is attached by :class:`TokenAuth` only to the DAF servers of that client, and retries happen in
:class:`RetryingTransport` / :class:`AsyncRetryingTransport`, which share :class:`RetryPolicy`.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from dafclient import __version__
from dafclient.config import RetrySettings, Timeouts

IDEMPOTENT = "dafclient.idempotent"
"""Request extension: True when sending the request twice has the effect of sending it once."""

NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that happen before any byte of the request reached the server."""
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
"""Connection failures after the request may have arrived (not timeouts: a hung server is not
retried, so a timeout surfaces within the configured time)."""


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


class RetryPolicy:
    """Decides whether and when a request is tried again."""

    def __init__(self, settings: RetrySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()

    @staticmethod
    def idempotent(request: httpx.Request) -> bool:
        flag = request.extensions.get(IDEMPOTENT)
        if isinstance(flag, bool):
            return flag
        return request.method in {"GET", "HEAD", "OPTIONS"}

    def retry_after_error(self, request: httpx.Request, error: Exception, attempt: int) -> bool:
        if attempt >= self.settings.max_retries:
            return False
        if isinstance(error, NEVER_SENT):
            return True
        return isinstance(error, _MAYBE_SENT) and self.idempotent(request)

    def retry_after_response(
        self, request: httpx.Request, response: httpx.Response, attempt: int
    ) -> bool:
        return (
            attempt < self.settings.max_retries
            and response.status_code in self.settings.statuses
            and self.idempotent(request)
        )

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if response is not None:
            hinted = retry_after_seconds(response.headers.get("retry-after"))
            if hinted is not None:
                return min(hinted, self.settings.retry_after_max)
        ceiling = min(self.settings.backoff_max, self.settings.backoff * (2**attempt))
        return self._rng.uniform(0, ceiling)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryingTransport(httpx.BaseTransport):
    """Wraps a transport with :class:`RetryPolicy` (sync)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                if not self._policy.retry_after_error(request, exc, attempt):
                    raise
                self._sleep(self._policy.delay(attempt))
                attempt += 1
                continue
            if not self._policy.retry_after_response(request, response, attempt):
                return response
            response.read()
            response.close()
            self._sleep(self._policy.delay(attempt, response))
            attempt += 1

    def close(self) -> None:
        self._inner.close()


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncRetryingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with :class:`RetryPolicy` (async)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy,
        sleep: Callable[[float], object] = _async_sleep,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                if not self._policy.retry_after_error(request, exc, attempt):
                    raise
                await self._wait(self._policy.delay(attempt))
                attempt += 1
                continue
            if not self._policy.retry_after_response(request, response, attempt):
                return response
            await response.aread()
            await response.aclose()
            await self._wait(self._policy.delay(attempt, response))
            attempt += 1

    async def _wait(self, seconds: float) -> None:
        result = self._sleep(seconds)
        if asyncio.iscoroutine(result):
            await result

    async def aclose(self) -> None:
        await self._inner.aclose()


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
    inner = transport or httpx.HTTPTransport(limits=LIMITS)
    return httpx.Client(
        auth=auth,
        transport=RetryingTransport(inner, RetryPolicy(retries)),
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
    inner = transport or httpx.AsyncHTTPTransport(limits=LIMITS)
    return httpx.AsyncClient(
        auth=auth,
        transport=AsyncRetryingTransport(inner, RetryPolicy(retries)),
        timeout=_timeout(timeouts),
        headers=HEADERS,
        follow_redirects=False,
    )
