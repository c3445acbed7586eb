"""The request-body size limit every service shares (production's nginx refuses bodies over 100 MB).

A pure ASGI middleware: a request whose ``Content-Length`` exceeds the limit is answered 413 before
any of its body is read; a body of unannounced length (chunked) is counted as it arrives and
refused with 413 as soon as it passes the limit, so no more than the limit is ever held. The 413
body is in the format of the service that owns the path (:func:`dafserver.errors.render_for_path`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from dafserver.errors import render_for_path

MAX_BODY_BYTES = 110_000_000
"""Largest request body accepted, in bytes (a margin over production's 100 MB proxy limit)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large_message(limit: int) -> str:
    """The text of every 413 for an oversized body."""
    return f"Request body too large: the limit is {limit} bytes"


class BodyTooLarge(Exception):
    """Raised inside the application when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))
        self.limit = limit


async def body_too_large_handler(request: Request, exc: Exception) -> Response:
    """The application's handler for :class:`BodyTooLarge` (raised while a handler reads)."""
    assert isinstance(exc, BodyTooLarge)
    response = render_for_path(request.url.path, 413, str(exc))
    response.headers["Connection"] = "close"
    return response


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with a 413."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = render_for_path(scope["path"], 413, too_large_message(self.max_bytes))
        response.headers["Connection"] = "close"
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
