"""Fault injection: make a share of requests fail the way a gateway or a flaky network does.

Off unless configured. :class:`FaultInjector` is a pure ASGI middleware; :func:`install` puts it
outside every other layer of an application (it needs the server's own ``send`` to reset a
connection). The decision for a request is a pure function of the seed, the method, the path and
the request's sequence number on that (method, path), so a run is reproducible.

What a client sees, per kind (uvicorn with h11, httpx on the client side):

- ``502``, ``504``: an nginx-style HTML page with that status.
- ``503``: a small JSON body ``{"code": 503, "message": ...}``.
- ``429``: a JSON body and ``Retry-After`` (``retry_after`` seconds, default 0).
- ``reset``: the TCP connection is aborted with RST before any response byte
  (``httpx.ReadError`` "connection reset", or ``httpx.RemoteProtocolError`` "server disconnected
  without sending a response" when the close wins the race).
- ``hang``: nothing is sent for ``hang_seconds`` (ended early when the client goes away), then a
  504 page; a client with a shorter read timeout sees ``httpx.ReadTimeout``.
- ``truncate``: the status and ``Content-Length`` of the full body, then only part of the body and
  the connection closes (``httpx.RemoteProtocolError`` "peer closed connection without sending
  complete message body").

Phases: ``before`` answers without calling the application (nothing is written); ``after`` runs
the application, throws its answer away and fails instead (the write happened, the client cannot
know). ``429`` and ``503`` happen only before (a rate limiter or an unavailable backend rejects
before processing); ``truncate`` only after (it cuts the real answer).

Configuration comes from :class:`FaultConfig`, built in code, from ``dafclient serve`` options or
from ``DAFSERVER_FAULTS`` (``rate=0.2,seed=1,kinds=503+reset,routes=/segmentation/,phase=after``);
:func:`parse_fields` is the one parser for both text forms.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENV_FAULTS = "DAFSERVER_FAULTS"

ALL_KINDS: tuple[str, ...] = ("502", "503", "504", "429", "reset", "hang", "truncate")
Phase = Literal["before", "after", "both"]

_PHASES_OF_KIND: dict[str, frozenset[str]] = {
    "502": frozenset({"before", "after"}),
    "503": frozenset({"before"}),
    "504": frozenset({"before", "after"}),
    "429": frozenset({"before"}),
    "reset": frozenset({"before", "after"}),
    "hang": frozenset({"before", "after"}),
    "truncate": frozenset({"after"}),
}


@dataclass(frozen=True)
class FaultConfig:
    """Which requests fail, and how.

    ``rate`` is the share of matching requests that fail; ``routes`` are path prefixes and
    ``methods`` HTTP methods that a request must match (empty: all). ``phase`` chooses whether a
    fault happens before the application runs, after it, or either (decided per request).
    """

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = ALL_KINDS
    routes: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    phase: Phase = "both"
    hang_seconds: float = 30.0
    retry_after: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {self.rate}")
        unknown = set(self.kinds) - set(ALL_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be among {ALL_KINDS}, got {self.kinds}")
        if self.phase not in ("before", "after", "both"):
            raise ValueError(f"fault phase must be before, after or both, got {self.phase!r}")
        if self.hang_seconds < 0 or self.retry_after < 0:
            raise ValueError("hang_seconds and retry_after must not be negative")
        object.__setattr__(self, "methods", tuple(m.upper() for m in self.methods))

    def phases(self) -> tuple[str, ...]:
        """The phases this configuration allows, in a fixed order."""
        return ("before", "after") if self.phase == "both" else (self.phase,)

    def matches(self, method: str, path: str) -> bool:
        """True when a request to ``method path`` is subject to faults."""
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.routes or any(path.startswith(prefix) for prefix in self.routes)


@dataclass(frozen=True)
class Fault:
    """One decided fault: its kind and its phase."""

    kind: str
    phase: str


def decide(config: FaultConfig, method: str, path: str, sequence: int) -> Fault | None:
    """The fault for the ``sequence``-th request (from 0) to ``method path``, or None."""
    if config.rate <= 0 or not config.matches(method, path):
        return None
    rng = random.Random(f"{config.seed}:{method.upper()}:{path}:{sequence}")
    if rng.random() >= config.rate:
        return None
    kind = rng.choice(config.kinds)
    phases = [p for p in config.phases() if p in _PHASES_OF_KIND[kind]]
    if not phases:
        return None
    return Fault(kind=kind, phase=rng.choice(phases))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace("+", ",").split(",") if part.strip())


def parse_fields(fields: Mapping[str, str]) -> FaultConfig:
    """A configuration from text fields (``rate``, ``seed``, ``kinds``, ``routes``, ``methods``,
    ``phase``, ``hang``, ``retry_after``); lists are separated by ``+`` or ``,``."""
    known = {"rate", "seed", "kinds", "routes", "methods", "phase", "hang", "retry_after"}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown fault setting(s) {sorted(unknown)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    if "rate" in fields:
        kwargs["rate"] = float(fields["rate"])
    if "seed" in fields:
        kwargs["seed"] = int(fields["seed"])
    if "kinds" in fields:
        kwargs["kinds"] = _split(fields["kinds"])
    if "routes" in fields:
        kwargs["routes"] = _split(fields["routes"])
    if "methods" in fields:
        kwargs["methods"] = _split(fields["methods"])
    if "phase" in fields:
        kwargs["phase"] = fields["phase"].strip()
    if "hang" in fields:
        kwargs["hang_seconds"] = float(fields["hang"])
    if "retry_after" in fields:
        kwargs["retry_after"] = int(fields["retry_after"])
    return FaultConfig(**kwargs)


def parse_spec(text: str) -> FaultConfig:
    """A configuration from ``key=value`` pairs separated by commas (the ``DAFSERVER_FAULTS`` form).

    A list value continues after a comma when the next item has no ``=``:
    ``kinds=503,reset`` and ``kinds=503+reset`` are the same.
    """
    fields: dict[str, str] = {}
    last: str | None = None
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "=" in item:
            key, _, value = item.partition("=")
            last = key.strip()
            fields[last] = value.strip()
        elif last is not None:
            fields[last] += "+" + item
        else:
            raise ValueError(f"{ENV_FAULTS}: expected key=value, got {item!r}")
    return parse_fields(fields)


def config_from_env(environ: Mapping[str, str] | None = None) -> FaultConfig | None:
    """The configuration in ``DAFSERVER_FAULTS``, or None when it is unset or empty."""
    text = (os.environ if environ is None else environ).get(ENV_FAULTS, "").strip()
    return parse_spec(text) if text else None


_GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    504: "504 Gateway Time-out",
}


def _html_page(status: int) -> bytes:
    title = _GATEWAY_PAGES[status]
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


async def _send_simple(
    send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _server_transport(send: Send) -> asyncio.Transport | None:
    """The connection's transport when ``send`` is the server's own (uvicorn), else None."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


class FaultInjector:
    """ASGI middleware failing a deterministic share of requests (see the module docstring)."""

    def __init__(self, app: ASGIApp, config: FaultConfig) -> None:
        self.app = app
        self.config = config
        self._counters: dict[tuple[str, str], itertools.count[int]] = {}
        self._lock = threading.Lock()
        self.injected: Counter[tuple[str, str]] = Counter()
        """Faults injected so far, by (kind, phase)."""

    def _next(self, method: str, path: str) -> int:
        with self._lock:
            counter = self._counters.setdefault((method, path), itertools.count())
            return next(counter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.config.matches(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        fault = decide(self.config, method, path, self._next(method, path))
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.injected[fault.kind, fault.phase] += 1
        captured: list[Message] = []
        if fault.phase == "after":

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)
        await self._fail(fault.kind, captured, receive, send)

    async def _fail(self, kind: str, captured: list[Message], receive: Receive, send: Send) -> None:
        if kind in ("502", "504"):
            await _send_simple(send, int(kind), _html_page(int(kind)), "text/html", [])
        elif kind == "503":
            body = json.dumps({"code": 503, "message": "service unavailable"}).encode()
            await _send_simple(send, 503, body, "application/json", [])
        elif kind == "429":
            body = json.dumps({"error": "rate_limited", "message": "too many requests"}).encode()
            retry = [(b"retry-after", str(self.config.retry_after).encode())]
            await _send_simple(send, 429, body, "application/json", retry)
        elif kind == "reset":
            await self._reset(send)
        elif kind == "hang":
            await self._hang(receive)
            await _send_simple(send, 504, _html_page(504), "text/html", [])
        else:
            await self._truncate(captured, send)

    async def _reset(self, send: Send) -> None:
        transport = _server_transport(send)
        if transport is None:
            # Not uvicorn's own send: the closest portable thing is headers, then a broken stream.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise ConnectionResetError("injected connection reset")
        sock = cast(socket.socket | None, transport.get_extra_info("socket"))
        if sock is not None:
            # Linger 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        # Let the server notice the lost connection before the application returns, so it
        # does not try to answer on it.
        for _ in range(3):
            await asyncio.sleep(0)

    async def _hang(self, receive: Receive) -> None:
        """Wait ``hang_seconds``, or until the client disconnects."""

        async def until_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                if not message.get("more_body", False):
                    await asyncio.sleep(0.05)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until_disconnect(), timeout=self.config.hang_seconds)

    async def _truncate(self, captured: list[Message], send: Send) -> None:
        start = next((m for m in captured if m["type"] == "http.response.start"), None)
        body = b"".join(
            bytes(m.get("body", b"")) for m in captured if m["type"] == "http.response.body"
        )
        if start is None:
            status, headers = 200, []
        else:
            status = int(start["status"])
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"transfer-encoding")
            ]
        if not body:
            body = b'{"truncated": true}'
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        transport = _server_transport(send)
        if transport is not None:
            transport.close()
            for _ in range(3):
                await asyncio.sleep(0)
        # Returning without finishing the body makes any ASGI server close the connection.


def install(app: Starlette, config: FaultConfig | None) -> FaultInjector | None:
    """Put a :class:`FaultInjector` outside every layer of ``app`` (nothing when ``config`` is
    None). Call it last: middleware cannot be added to ``app`` afterwards."""
    if config is None:
        return None
    injector = FaultInjector(app.build_middleware_stack(), config)
    app.middleware_stack = injector
    return injector
