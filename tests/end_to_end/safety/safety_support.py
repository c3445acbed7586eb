"""Helpers of the safety tests: recording HTTP servers, fault transports, token-leak checks."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from dafclient import FrameworkClient
from dafclient.config import RetrySettings

Handler = Callable[[httpx.Request], httpx.Response]
MakeClient = Callable[..., FrameworkClient]
"""Makes a FrameworkClient on the test datastack sending through a given transport."""

NO_RETRIES = RetrySettings(max_retries=0)


def assert_token_absent(token: str, obj: object) -> None:
    """``token`` appears nowhere in ``obj``'s repr and str (and, for an exception, its args,
    its attributes, and the formatted traceback of its whole cause chain)."""
    assert token not in repr(obj), repr(obj)
    assert token not in str(obj), str(obj)
    if isinstance(obj, BaseException):
        for arg in obj.args:
            assert token not in repr(arg)
        for name, value in vars(obj).items():
            assert token not in repr(value), name
        formatted = "".join(traceback.format_exception(obj))
        assert token not in formatted


@dataclass
class Recorded:
    """What one recording server saw: the headers of every request, in order."""

    url: str = ""
    headers: list[dict[str, str]] = field(default_factory=list)


def _recording_handler(seen: Recorded, redirect_to: str | None) -> type[BaseHTTPRequestHandler]:
    class RecordingHandler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.headers.append({k.lower(): v for k, v in self.headers.items()})
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", redirect_to + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"leaf_ids": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    return RecordingHandler


@contextmanager
def recording_server(redirect_to: str | None = None) -> Iterator[Recorded]:
    """A loopback HTTP server recording request headers; with ``redirect_to`` it answers every
    request with a 302 to the same path on that base URL, else with a small JSON object."""
    seen = Recorded()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _recording_handler(seen, redirect_to))
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def forward(real: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
    """Send ``request`` to the real server through ``real`` and return its whole answer, as a
    mock transport must (the body read, framing headers dropped)."""
    request.read()
    response = real.handle_request(request)
    content = response.read()
    response.close()
    headers = [
        (k, v)
        for k, v in response.headers.items()
        if k.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
    ]
    return httpx.Response(response.status_code, headers=headers, content=content)


class Intercepting:
    """A transport that answers requests whose path contains ``marker`` with ``handler`` and
    forwards every other request to the real server (so the client's set-up calls still work).
    ``requests`` counts every request the client sent."""

    def __init__(self, marker: str, handler: Handler) -> None:
        self.marker = marker
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self._real = httpx.HTTPTransport()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.marker in request.url.path:
            return self.handler(request)
        return forward(self._real, request)

    def close(self) -> None:
        self._real.close()


def counting_transport() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that records every request and answers 599 (nothing may be sent)."""
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(599, text="no request was expected")

    return httpx.MockTransport(handle), sent
