"""Transport behaviour: where the token goes, timeouts, which requests are retried."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.config import RetrySettings, Timeouts
from dafclient.errors import RequestTimeoutError, ServerError
from dafserver.runner import LocalServer

FAST_RETRIES = RetrySettings(max_retries=3, backoff=0.0, backoff_max=0.0)


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({"layers": [], "from": "elsewhere"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_token_is_not_sent_to_other_hosts(
    client: FrameworkClient, daf_server: LocalServer, other_server: str
) -> None:
    state = client.state.get_state_json(f"{other_server}/some/state.json")
    assert state == {"layers": [], "from": "elsewhere"}
    assert len(_Recorder.seen) == 1
    headers = _Recorder.seen[0]
    assert "authorization" not in headers
    assert daf_server.admin_token not in json.dumps(headers)
    # ...while the DAF server itself did get it (the same client still works there).
    assert client.auth.get_user_cache().admin is True


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_hung_server_times_out_within_the_deadline(silent_server: str) -> None:
    """Reads are retried after a read timeout, but every attempt of the call (version
    negotiation included) ends by ``Timeouts.total``; the error lists the attempts."""
    timeouts = Timeouts(connect=1.0, read=0.5, write=0.5, pool=1.0, total=2.0)
    with FrameworkClient(server_address=silent_server, auth_token="x" * 32, timeouts=timeouts) as c:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            c.info.get_datastacks()
        elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 2.5, elapsed
    assert "info/api" in caught.value.url
    assert len(caught.value.attempts) >= 2
    assert all("ReadTimeout" in attempt for attempt in caught.value.attempts)
    assert "(deadline 2 s)" in str(caught.value) and "2) GET /info/api/" in str(caught.value)


def _counting_transport(handler: object) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request, len(seen))  # type: ignore[operator]

    return httpx.MockTransport(respond), seen


def test_a_503_then_200_get_succeeds_after_one_retry() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json=["synapse"])

    transport, seen = _counting_transport(handler)
    with FrameworkClient(
        server_address="https://daf.test",
        transport=transport,
        retries=FAST_RETRIES,
        api_versions={"schema": 2},
    ) as c:
        assert c.schema.get_schemas() == ["synapse"]
    assert [(r.method, r.url.path) for r in seen] == [("GET", "/schema/api/v2/type")] * 2


def test_retry_after_is_honoured_and_retries_are_bounded() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow down"})

    transport, seen = _counting_transport(handler)
    with FrameworkClient(
        server_address="https://daf.test",
        auth_token="t",
        transport=transport,
        retries=FAST_RETRIES,
        api_versions={"schema": 2},
    ) as c:
        with pytest.raises(Exception) as caught:
            c.schema.get_schemas()
    assert type(caught.value).__name__ == "RateLimitedError"
    assert len(seen) == FAST_RETRIES.max_retries + 1


def test_a_post_that_timed_out_is_not_sent_again() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    transport, seen = _counting_transport(handler)
    with FrameworkClient(
        "ds",
        server_address="https://daf.test",
        auth_token="t",
        transport=transport,
        retries=FAST_RETRIES,
    ) as c:
        with pytest.raises(RequestTimeoutError):
            c.state.upload_state_json({"a": 1})
    assert [r.method for r in seen] == ["POST"]


def test_a_post_whose_connection_failed_before_sending_is_retried() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json="https://daf.test/nglstate/api/v1/42")

    transport, seen = _counting_transport(handler)
    with FrameworkClient(
        server_address="https://daf.test", auth_token="t", transport=transport, retries=FAST_RETRIES
    ) as c:
        assert c.state.upload_state_json({"a": 1}) == 42
    assert [r.method for r in seen] == ["POST", "POST"]


def test_a_502_on_an_edit_is_not_retried() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if request.url.path.endswith("/merge"):
            return httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")
        if request.url.path == "/info/api/v2/datastack/full/ds":
            return httpx.Response(200, json=_datastack_record())
        return httpx.Response(200, json=[0, 1])

    transport, seen = _counting_transport(handler)
    with FrameworkClient(
        "ds",
        server_address="https://daf.test",
        auth_token="t",
        transport=transport,
        retries=FAST_RETRIES,
    ) as c:
        with pytest.raises(ServerError) as caught:
            c.chunkedgraph.do_merge([1, 2], [[0, 0, 0], [1, 1, 1]])
    assert caught.value.status == 502 and "Bad Gateway" in caught.value.message
    assert [r.url.path for r in seen].count("/segmentation/api/v1/table/t/merge") == 1


def _datastack_record() -> dict[str, object]:
    return {
        "aligned_volume": {
            "id": 1,
            "name": "av",
            "display_name": None,
            "description": None,
            "image_source": "gs://b/em",
        },
        "segmentation_source": "graphene://https://daf.test/segmentation/table/t",
        "analysis_database": None,
        "viewer_site": None,
        "synapse_table": None,
        "soma_table": None,
        "local_server": "https://daf.test",
        "description": None,
        "viewer_resolution_x": 4.0,
        "viewer_resolution_y": 4.0,
        "viewer_resolution_z": 40.0,
        "proofreading_status_table": None,
        "cell_identification_table": None,
        "proofreading_review_table": None,
    }


def _resource_warnings(use: Callable[[], object]) -> list[str]:
    """The ResourceWarnings raised while ``use`` runs and its garbage is collected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        use()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_closed_client_leaves_no_socket_to_the_garbage_collector(
    daf_server: LocalServer,
) -> None:
    def closed() -> None:
        with FrameworkClient(
            server_address=daf_server.base_url, auth_token=daf_server.admin_token
        ) as client:
            assert client.info.get_datastacks()

    def left_open() -> None:
        client = FrameworkClient(
            server_address=daf_server.base_url, auth_token=daf_server.admin_token
        )
        assert client.info.get_datastacks()

    assert _resource_warnings(closed) == []
    # The check sees a leak: a client nobody closes leaves its pooled socket to the collector.
    assert any("unclosed <socket" in message for message in _resource_warnings(left_open))


def test_a_closed_async_client_leaves_no_socket_to_the_garbage_collector(
    daf_server: LocalServer,
) -> None:
    async def closed() -> None:
        async with AsyncFrameworkClient(
            server_address=daf_server.base_url, auth_token=daf_server.admin_token
        ) as client:
            assert await client.info.get_datastacks()

    assert _resource_warnings(lambda: asyncio.run(closed())) == []
