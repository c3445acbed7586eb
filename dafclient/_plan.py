"""Sans-I/O request plans, shared by the sync and async clients.

Every client operation is written once, as a *plan*: a generator that yields the :class:`Call`
objects it needs sent and receives each :class:`httpx.Response` back, then returns the typed result.
A plan never does I/O itself, so the same code runs under :func:`drive` (blocking) and
:func:`adrive` (asyncio). Multi-step operations (negotiating an API version, fetching the datastack
record first, batching) are plans that ``yield from`` other plans.

:class:`SyncOperation` and :class:`AsyncOperation` turn a plan method into a public method of a sync
or async service client, keeping its signature for type checkers and IDEs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeAlias, TypeVar, overload

import httpx

from dafclient.errors import (
    ConnectionFailedError,
    DafError,
    DafTransportError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseFormatError,
    error_class,
    parse_error_body,
)
from dafclient.retrying import (
    BUDGET,
    IDEMPOTENT,
    NEVER_SENT,
    Budget,
    budget_of,
    call_budget,
    request_of,
    retry_after_seconds,
)

T = TypeVar("T")
P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True)
class EncodedJson:
    """A JSON request body already encoded (large bodies built faster than ``json.dumps``)."""

    data: bytes

    def __repr__(self) -> str:
        return f"EncodedJson({len(self.data)} bytes)"


@dataclass(frozen=True)
class Call:
    """One HTTP request a plan wants sent.

    ``accept`` lists error statuses the plan handles itself (they are handed back instead of
    raised). ``idempotent`` overrides the method's default (GET is idempotent, POST is not) for
    the retry policy.
    """

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = NO_BODY
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    idempotent: bool | None = None
    accept: frozenset[int] = field(default_factory=frozenset)

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"method": self.method, "url": self.url}
        if self.params:
            kwargs["params"] = {k: _param(v) for k, v in self.params.items() if v is not None}
        if isinstance(self.json, EncodedJson):
            kwargs["content"] = self.json.data
            kwargs["headers"] = {"Content-Type": "application/json", **(self.headers or {})}
        elif self.json is not NO_BODY:
            kwargs["content"] = json.dumps(self.json, separators=(",", ":")).encode()
            kwargs["headers"] = {"Content-Type": "application/json", **(self.headers or {})}
        elif self.content is not None:
            kwargs["content"] = self.content
        if "headers" not in kwargs and self.headers:
            kwargs["headers"] = dict(self.headers)
        if self.idempotent is not None:
            kwargs["extensions"] = {IDEMPOTENT: self.idempotent}
        return kwargs


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


Plan: TypeAlias = Generator[Call, httpx.Response, T]


def raise_for_status(call: Call, response: httpx.Response) -> None:
    """Raise the :class:`DafHTTPError` subclass for an error status not in ``call.accept``."""
    status = response.status_code
    if status < 300 or status in call.accept:
        return
    text = response.text
    try:
        body: Any = response.json() if text else None
    except ValueError:
        body = None
    message, error_code, data, intended = parse_error_body(body, text)
    cls = error_class(intended if intended is not None and status >= 500 else status)
    if status in (300, 301, 302, 303, 307, 308):
        location = response.headers.get("location", "")
        message = f"unexpected redirect to {location!r} (a login page?): {message}"
    error = cls(
        method=call.method,
        url=str(response.request.url),
        status=status,
        message=message,
        intended_status=intended,
        error_code=error_code,
        data=data,
        body=text,
        headers=response.headers,
    )
    if isinstance(error, RateLimitedError):
        error.retry_after = retry_after_seconds(response.headers.get("retry-after"))
    raise error


def read_json(call: Call, response: httpx.Response) -> Any:
    """The response body as JSON, or :class:`ResponseFormatError`."""
    try:
        return response.json()
    except ValueError as exc:
        snippet = response.text[:200]
        raise ResponseFormatError(
            f"expected JSON, got {snippet!r}", method=call.method, url=str(response.request.url)
        ) from exc


def transport_error(call: Call, exc: httpx.RequestError) -> DafTransportError:
    """The dafclient error for an httpx failure to get an answer; ``sent`` says whether any of the
    request may have reached the server (a connect failure: certainly not). When the request was
    tried more than once, the message lists every attempt."""
    sent = not isinstance(exc, NEVER_SENT)
    budget = budget_of(request_of(exc))
    tries = budget.summary() if budget is not None else ""
    history = () if budget is None else tuple(str(a) for a in budget.made)
    if isinstance(exc, httpx.TimeoutException):
        message = f"timed out: {exc}" if not tries else f"timed out, gave up after {tries}"
        return RequestTimeoutError(
            message, method=call.method, url=call.url, sent=sent, attempts=history
        )
    if isinstance(exc, httpx.DecodingError):
        message = f"the answer could not be decoded: {exc}"
    else:
        message = f"connection failed: {exc}"
    if budget is not None and len(budget.made) > 1:
        message += f"; gave up after {tries}"
    return ConnectionFailedError(
        message, method=call.method, url=call.url, sent=sent, attempts=history
    )


def _request_kwargs(call: Call, budget: Budget | None) -> dict[str, Any]:
    kwargs = call.request_kwargs()
    if budget is not None:
        kwargs["extensions"] = {**kwargs.get("extensions", {}), BUDGET: budget}
    return kwargs


def send(http: httpx.Client, call: Call, budget: Budget | None = None) -> httpx.Response:
    """Send ``call`` and check its status (blocking); ``budget`` is the time of the whole call it
    is part of (a request of its own when None)."""
    try:
        response = http.request(**_request_kwargs(call, budget))
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise transport_error(call, exc) from exc
    raise_for_status(call, response)
    return response


async def asend(
    http: httpx.AsyncClient, call: Call, budget: Budget | None = None
) -> httpx.Response:
    """Send ``call`` and check its status (asyncio)."""
    try:
        response = await http.request(**_request_kwargs(call, budget))
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise transport_error(call, exc) from exc
    raise_for_status(call, response)
    return response


def _answered(budget: Budget | None) -> None:
    if budget is not None:
        budget.answered()


_PARSE_FAILURES = (KeyError, IndexError, TypeError, ValueError, AttributeError)
"""What reading a reply of an unexpected shape raises in a plan (a missing key, a string where
a number belongs...), turned by the drivers into :class:`ResponseFormatError`."""


def _parse(plan: Plan[T], call: Call, response: httpx.Response, operation: str | None) -> Call:
    """Hand ``response`` to ``plan``: every success body goes through this one checked step, so
    a reply of the wrong shape is a :class:`ResponseFormatError`, never a bare ``KeyError``."""
    try:
        return plan.send(response)
    except ResponseFormatError as exc:
        if exc.operation is None:
            exc.operation = operation
        raise
    except _PARSE_FAILURES as exc:
        if isinstance(exc, DafError):
            raise
        raise ResponseFormatError(
            f"the reply is not what the route returns ({type(exc).__name__}: {exc})",
            method=call.method,
            url=str(response.request.url),
            operation=operation,
        ) from exc


def drive(plan: Plan[T], http: httpx.Client, operation: str | None = None) -> T:
    """Run ``plan`` to completion with blocking I/O.

    A failed request is thrown into the plan, so a plan can handle it (version negotiation falls
    back when a versions route is unreachable) or let it propagate. The plan's requests share one
    :class:`~dafclient.retrying.Budget`: ``Timeouts.total`` from the start, or from the last answer.
    """
    budget = call_budget(http)
    try:
        call = next(plan)
        while True:
            try:
                response = send(http, call, budget)
            except DafError as exc:
                call = plan.throw(exc)
            else:
                _answered(budget)
                call = _parse(plan, call, response, operation)
    except StopIteration as done:
        result: T = done.value
        return result


async def adrive(plan: Plan[T], http: httpx.AsyncClient, operation: str | None = None) -> T:
    """Run ``plan`` to completion on the event loop (errors are thrown in, as in :func:`drive`)."""
    budget = call_budget(http)
    try:
        call = next(plan)
        while True:
            try:
                response = await asend(http, call, budget)
            except DafError as exc:
                call = plan.throw(exc)
            else:
                _answered(budget)
                call = _parse(plan, call, response, operation)
    except StopIteration as done:
        result: T = done.value
        return result


def run_now(plan: Plan[T]) -> T:
    """Run a plan that needs no I/O (its inputs were cached); error if it tries to send."""
    try:
        call = next(plan)
    except StopIteration as done:
        result: T = done.value
        return result
    plan.close()
    raise RuntimeError(f"plan needed a request it cannot send here: {call.method} {call.url}")


class HasSyncHttp:
    """Mixin of sync service clients: where their plans are driven."""

    _http: httpx.Client


class HasAsyncHttp:
    """Mixin of async service clients."""

    _http: httpx.AsyncClient


def _result_annotation(plan: Callable[..., Any], finish: Callable[..., Any]) -> Any:
    """What the public method returns: ``finish``'s return type when it changes the result, else
    ``T`` of the plan's ``Plan[T]`` (annotations are strings under postponed evaluation)."""
    if finish not in (_unchanged, _aunchanged):
        return inspect.signature(finish).return_annotation
    declared = inspect.signature(plan).return_annotation
    if isinstance(declared, str) and declared.startswith("Plan[") and declared.endswith("]"):
        return declared[len("Plan[") : -1]
    return declared


class _Operation:
    """What the sync and async operation descriptors share: the public face of the method.

    Reached through an instance, the descriptor returns a plain function whose ``__name__``,
    ``__qualname__``, ``__doc__`` and ``inspect.signature`` are those of a hand-written method
    (no ``self``, the real return type), so ``help()``, Jupyter's ``?`` and IDEs show it truly.
    Reached through the class, the descriptor itself carries the same metadata (with ``self``).
    """

    def __init__(self, plan: Callable[..., Any], finish: Callable[..., Any]) -> None:
        self._plan = plan
        self._finish = finish
        self.__doc__ = plan.__doc__
        self.__name__ = plan.__name__.lstrip("_")
        self.__qualname__ = self.__name__
        self.__module__ = plan.__module__
        signature = inspect.signature(plan)
        self.__signature__ = signature.replace(return_annotation=_result_annotation(plan, finish))
        self._bound_signature = self.__signature__.replace(
            parameters=list(signature.parameters.values())[1:]
        )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__name__ = name
        self.__qualname__ = f"{owner.__qualname__}.{name}"
        self.__module__ = owner.__module__

    def _present(self, method: Callable[..., Any]) -> None:
        method.__name__ = self.__name__
        method.__qualname__ = self.__qualname__
        method.__module__ = self.__module__
        method.__doc__ = self.__doc__
        method.__signature__ = self._bound_signature  # type: ignore[attr-defined]

    def __call__(self, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Called through the class, like a plain method: ``Client.get_roots(client, ids)``."""
        return self.__get__(obj, type(obj))(*args, **kwargs)

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<operation {self.__qualname__}{self.__signature__}>"


class SyncOperation(_Operation, Generic[S, P, T, R]):
    """A public blocking method made from a plan method (see the module docstring); ``finish``
    turns the plan's result into the method's (most operations return it unchanged)."""

    _plan: Callable[Concatenate[S, P], Plan[T]]
    _finish: Callable[[T, httpx.Client], R]

    def __init__(
        self,
        plan: Callable[Concatenate[S, P], Plan[T]],
        finish: Callable[[T, httpx.Client], R],
    ) -> None:
        super().__init__(plan, finish)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: S, owner: type[Any]) -> Callable[P, R]: ...
    def __get__(self, obj: S | None, owner: type[Any]) -> Self | Callable[P, R]:
        if obj is None:
            return self
        plan, finish, name = self._plan, self._finish, self.__qualname__
        http = obj._http  # type: ignore[attr-defined]

        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return finish(drive(plan(obj, *args, **kwargs), http, name), http)

        self._present(method)
        return method


class AsyncOperation(_Operation, Generic[S, P, T, R]):
    """A public coroutine method made from a plan method (see the module docstring)."""

    _plan: Callable[Concatenate[S, P], Plan[T]]
    _finish: Callable[[T, httpx.AsyncClient], Awaitable[R]]

    def __init__(
        self,
        plan: Callable[Concatenate[S, P], Plan[T]],
        finish: Callable[[T, httpx.AsyncClient], Awaitable[R]],
    ) -> None:
        super().__init__(plan, finish)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: S, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(
        self, obj: S | None, owner: type[Any]
    ) -> Self | Callable[P, Coroutine[Any, Any, R]]:
        if obj is None:
            return self
        plan, finish, name = self._plan, self._finish, self.__qualname__
        http = obj._http  # type: ignore[attr-defined]

        async def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return await finish(await adrive(plan(obj, *args, **kwargs), http, name), http)

        self._present(method)
        return method


def _unchanged(value: T, http: object) -> T:
    return value


async def _aunchanged(value: T, http: object) -> T:
    return value


def sync_op(plan: Callable[Concatenate[S, P], Plan[T]]) -> SyncOperation[S, P, T, T]:
    """Expose plan method ``plan`` as a blocking method of a sync service client."""
    return SyncOperation(plan, _unchanged)


def async_op(plan: Callable[Concatenate[S, P], Plan[T]]) -> AsyncOperation[S, P, T, T]:
    """Expose plan method ``plan`` as a coroutine method of an async service client."""
    return AsyncOperation(plan, _aunchanged)


def sync_op_then(
    plan: Callable[Concatenate[S, P], Plan[T]], finish: Callable[[T, httpx.Client], R]
) -> SyncOperation[S, P, T, R]:
    """:func:`sync_op` whose method returns ``finish(plan result, http client)`` (for work that
    needs more than one request at a time, such as bulk writes)."""
    return SyncOperation(plan, finish)


def async_op_then(
    plan: Callable[Concatenate[S, P], Plan[T]],
    finish: Callable[[T, httpx.AsyncClient], Awaitable[R]],
) -> AsyncOperation[S, P, T, R]:
    """The coroutine twin of :func:`sync_op_then`."""
    return AsyncOperation(plan, finish)


__all__ = [
    "NO_BODY",
    "AsyncOperation",
    "Call",
    "EncodedJson",
    "Plan",
    "SyncOperation",
    "adrive",
    "async_op",
    "async_op_then",
    "drive",
    "raise_for_status",
    "read_json",
    "run_now",
    "sync_op",
    "sync_op_then",
]
