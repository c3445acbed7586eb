"""Retries of whole requests: the answer's status, its body, and a deadline over every attempt.

The retry layer sits in the httpx client's ``send`` (:class:`RetryingClient`,
:class:`AsyncRetryingClient`), after the body has been read, so a body cut short, a gzip stream
that ends early or a read that times out is seen and retried like a refused connection. The
decisions (retry or not, how long to wait, how long the next attempt may take) are made by
:class:`Attempts`, shared by both clients; the two ``send`` loops only do the I/O.

Rules:

- A request that is idempotent (GET/HEAD/OPTIONS, or marked with the :data:`IDEMPOTENT`
  extension) is retried on any transport failure (connect, read, write, timeouts, broken or
  truncated bodies), on a body that cannot be decoded or whose compressed stream ends early
  (:func:`check_complete`), and on the retry statuses
  (429/502/503/504), waiting with full-jitter backoff or the server's ``Retry-After``.
- Any other request (an edit, an annotation write) is retried only when the connection failed
  before anything was sent, so it never reaches the server twice.
- Every attempt runs against one deadline (``Timeouts.total`` from the start of the public call
  or its last answer, its :class:`Budget`): each attempt's timeouts are clipped to what is left, and no retry starts
  whose wait would outlast it. The attempts
  made are kept in the call's :class:`Budget` (:func:`budget_of`), so the final error can say what
  each failed with.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from dafclient.config import RetrySettings

IDEMPOTENT = "dafclient.idempotent"
"""Request extension: True when sending the request twice has the effect of sending it once."""

BUDGET = "dafclient.budget"
"""Request extension: the :class:`Budget` the request belongs to. The plan drivers give all the
requests of one public call one budget; a request without one gets ``Timeouts.total`` of its
own."""

NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that happen before any byte of the request reached the server."""

PERMANENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
"""Failures that a retry cannot cure (the request itself is wrong)."""

RETRYABLE = (httpx.TransportError, httpx.DecodingError)
"""Failures caught by the retry loop: no usable answer arrived, or its body did not."""

_MIN_ATTEMPT_SECONDS = 0.001


@dataclass(frozen=True)
class Attempt:
    """One try at a request: which, what came of it and how long it took."""

    request: str
    outcome: str
    seconds: float

    def __str__(self) -> str:
        return f"{self.request}: {self.outcome} after {self.seconds:.2f} s"


class Budget:
    """The time a call may go without an answer, and its attempts since the last one.

    A call that sends one request (with its retries) must be done by ``deadline`` seconds after it
    started. A call that sends many (batches, a read-back) is given the same time again after each
    answer it gets, so a long job that makes progress is never cut, while one that stalls is.
    """

    def __init__(self, deadline: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadline = deadline
        self.made: list[Attempt] = []
        self.started = clock()
        self.ends = None if deadline is None else self.started + deadline

    def answered(self) -> None:
        """An answer arrived: the next request starts with the whole deadline again."""
        self.made.clear()
        self.started = self.clock()
        self.ends = None if self.deadline is None else self.started + self.deadline

    def summary(self) -> str:
        """``3 attempts in 2.01 s (deadline 2 s): 1) GET /x: ReadTimeout after 0.50 s; 2) ...``."""
        limit = "" if self.deadline is None else f" (deadline {self.deadline:g} s)"
        each = "; ".join(f"{n}) {attempt}" for n, attempt in enumerate(self.made, 1))
        noun = "attempt" if len(self.made) == 1 else "attempts"
        took = self.clock() - self.started
        return f"{len(self.made)} {noun} in {took:.2f} s{limit}: {each}"


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


def is_idempotent(request: httpx.Request) -> bool:
    """Whether sending ``request`` twice has the effect of sending it once."""
    flag = request.extensions.get(IDEMPOTENT)
    if isinstance(flag, bool):
        return flag
    return request.method in {"GET", "HEAD", "OPTIONS"}


def _describe(error: BaseException) -> str:
    """An attempt's failure: the exception's type, and its message where it says more. A timeout's
    says nothing the type does not (httpx gives "timed out" in sync code, nothing in async), so
    both clients describe a stall alike."""
    text = str(error).strip()
    if not text or isinstance(error, httpx.TimeoutException):
        return type(error).__name__
    return f"{type(error).__name__}: {text}"


class RetryPolicy:
    """The retry settings and the overall deadline of every request of one client."""

    def __init__(
        self,
        settings: RetrySettings,
        deadline: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self._rng = rng or random.Random()
        self._clock = clock

    def budget(self) -> Budget:
        """The :class:`Budget` of a call starting now."""
        return Budget(self.deadline, self._clock)

    def start(self, request: httpx.Request) -> Attempts:
        """Begin the attempts at ``request`` within its call's budget (a new one if it has none)."""
        given = request.extensions.get(BUDGET)
        budget = given if isinstance(given, Budget) else self.budget()
        request.extensions[BUDGET] = budget
        return Attempts(self, request, budget)

    def backoff(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``retry + 1``."""
        if response is not None:
            hinted = retry_after_seconds(response.headers.get("retry-after"))
            if hinted is not None:
                return min(hinted, self.settings.retry_after_max)
        ceiling = min(self.settings.backoff_max, self.settings.backoff * (2**retry))
        return self._rng.uniform(0, ceiling)


class Attempts:
    """The attempts at one request: whether to try again, when, and with how much time."""

    def __init__(self, policy: RetryPolicy, request: httpx.Request, budget: Budget) -> None:
        self._policy = policy
        self._request = request
        self._budget = budget
        self._label = f"{request.method} {request.url.path}"
        self._timeouts: dict[str, float | None] = dict(request.extensions.get("timeout") or {})
        self._tries = 0
        self._attempt_started = budget.clock()

    def begin(self) -> None:
        """Start the next attempt: its timeouts are clipped to the time left before the deadline."""
        now = self._budget.clock()
        self._attempt_started = now
        if self._budget.ends is None or not self._timeouts:
            return
        left = max(self._budget.ends - now, _MIN_ATTEMPT_SECONDS)
        self._request.extensions["timeout"] = {
            name: left if limit is None else min(limit, left)
            for name, limit in self._timeouts.items()
        }

    def after_error(self, error: Exception) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up."""
        self._record(_describe(error))
        if not self._retryable(error):
            return None
        return self._wait(self._policy.backoff(self._tries - 1))

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying after ``response``, or None to keep it."""
        self._record(f"HTTP {response.status_code}")
        if response.status_code not in self._policy.settings.statuses:
            return None
        if not is_idempotent(self._request):
            return None
        return self._wait(self._policy.backoff(self._tries - 1, response))

    def _retryable(self, error: Exception) -> bool:
        if isinstance(error, PERMANENT):
            return False
        if isinstance(error, NEVER_SENT):
            return True
        return isinstance(error, RETRYABLE) and is_idempotent(self._request)

    def _wait(self, delay: float) -> float | None:
        if self._tries > self._policy.settings.max_retries:
            return None
        ends = self._budget.ends
        if ends is not None and self._budget.clock() + delay >= ends:
            return None
        return delay

    def _record(self, outcome: str) -> None:
        self._tries += 1
        seconds = self._budget.clock() - self._attempt_started
        self._budget.made.append(Attempt(self._label, outcome, seconds))


def call_budget(http: httpx.Client | httpx.AsyncClient) -> Budget | None:
    """The budget of a public call starting now on ``http`` (None for a plain httpx client)."""
    policy = getattr(http, "retry_policy", None)
    return policy.budget() if isinstance(policy, RetryPolicy) else None


def budget_of(request: httpx.Request | None) -> Budget | None:
    """The budget (deadline and attempts) ``request`` was sent under, if any."""
    if request is None:
        return None
    found = request.extensions.get(BUDGET)
    return found if isinstance(found, Budget) else None


def check_complete(response: httpx.Response) -> None:
    """Raise :class:`httpx.DecodingError` when a gzip or deflate body stopped before its end
    marker. httpx decodes such a body without complaint when the connection's framing ended it
    (a close-delimited body, or a server that sent a cut stream), so the cut is found here from
    the decompressor's state (httpx's decoder classes, pinned to ``httpx<0.29``)."""
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return  # no body: nothing was compressed
    decoder = getattr(response, "_decoder", None)
    children = getattr(decoder, "children", None) or [decoder]
    for child in children:
        decompressor = getattr(child, "decompressor", None)
        if getattr(decompressor, "eof", True) is False:
            raise httpx.DecodingError(
                f"the {response.headers.get('content-encoding', 'compressed')} body ended early",
                request=response.request,
            )


def request_of(error: httpx.HTTPError) -> httpx.Request | None:
    """The request an httpx error belongs to (None when httpx did not set it)."""
    try:
        return error.request
    except RuntimeError:
        return None


class RetryingClient(httpx.Client):
    """An :class:`httpx.Client` whose every request is retried as the module docstring says."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry_policy = policy
        self._sleep = sleep

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        attempts = self.retry_policy.start(request)
        while True:
            attempts.begin()
            try:
                response = super().send(
                    request, stream=stream, auth=auth, follow_redirects=follow_redirects
                )
                if not stream:
                    check_complete(response)
            except RETRYABLE as exc:
                delay = attempts.after_error(exc)
                if delay is None:
                    raise
                self._sleep(delay)
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            response.close()
            self._sleep(delay)


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncRetryingClient(httpx.AsyncClient):
    """The asyncio twin of :class:`RetryingClient` (same :class:`Attempts` decisions)."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = _async_sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry_policy = policy
        self._sleep = sleep

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        attempts = self.retry_policy.start(request)
        while True:
            attempts.begin()
            try:
                response = await super().send(
                    request, stream=stream, auth=auth, follow_redirects=follow_redirects
                )
                if not stream:
                    check_complete(response)
            except RETRYABLE as exc:
                delay = attempts.after_error(exc)
                if delay is None:
                    raise
                await self._sleep(delay)
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            await response.aclose()
            await self._sleep(delay)
