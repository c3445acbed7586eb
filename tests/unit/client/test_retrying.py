"""The retry layer's decisions, on answer shapes a real server does not produce on demand (a
gzip body that ends early, a body that breaks mid-way under a write). Real-server tests of every
fault kind are in tests/end_to_end/faults/."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable

import httpx
import pytest

from dafclient import FrameworkClient
from dafclient._plan import Call, Plan, drive, read_json
from dafclient.config import RetrySettings, Timeouts
from dafclient.errors import ConnectionFailedError, RequestTimeoutError, ServerError
from dafclient.retrying import Budget, RetryingClient, RetryPolicy

FAST = RetrySettings(max_retries=3, backoff=0.0, backoff_max=0.0)
SCHEMAS = "/schema/api/v2/type"

Handler = Callable[[httpx.Request, int], httpx.Response]


def _client(handler: Handler, **settings: object) -> tuple[FrameworkClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request, len(seen))

    client = FrameworkClient(
        "ds",
        server_address="https://daf.test",
        auth_token="t",
        transport=httpx.MockTransport(respond),
        api_versions={"schema": 2, "state": 1},
        **{"retries": FAST, **settings},  # type: ignore[arg-type]
    )
    return client, seen


def _truncated_gzip(payload: object) -> bytes:
    whole = gzip.compress(json.dumps(payload).encode())
    return whole[: len(whole) // 2]


def test_a_gzip_body_that_ends_early_is_retried_for_a_read() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(
                200, content=_truncated_gzip(["synapse"] * 50), headers={"Content-Encoding": "gzip"}
            )
        return httpx.Response(200, json=["synapse"])

    client, seen = _client(handler)
    with client:
        assert client.schema.get_schemas() == ["synapse"]
    assert len(seen) == 2


def test_a_gzip_body_that_always_ends_early_names_every_attempt() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(
            200, content=_truncated_gzip(["x"] * 50), headers={"Content-Encoding": "gzip"}
        )

    client, seen = _client(handler)
    with client, pytest.raises(ConnectionFailedError) as caught:
        client.schema.get_schemas()
    assert len(seen) == FAST.max_retries + 1
    assert len(caught.value.attempts) == len(seen)
    assert all("DecodingError" in attempt for attempt in caught.value.attempts)
    assert "could not be decoded" in str(caught.value)


def test_a_write_whose_body_broke_is_not_sent_again() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection mid-body", request=request)

    client, seen = _client(handler)
    with client, pytest.raises(ConnectionFailedError) as caught:
        client.state.upload_state_json({"a": 1})
    assert [r.method for r in seen] == ["POST"]
    assert caught.value.sent is True


def test_a_read_timeout_on_an_idempotent_post_is_retried() -> None:
    """Reads sent as POST (roots, leaves_many, ...) are marked idempotent and retried."""
    calls: list[str] = []

    def handler(request: httpx.Request, n: int) -> httpx.Response:
        calls.append(request.method)
        if n == 1:
            raise httpx.ReadTimeout("stalled", request=request)
        return httpx.Response(200, json=["ok"])

    policy = RetryPolicy(FAST, deadline=10.0)
    with RetryingClient(
        policy=policy, transport=httpx.MockTransport(lambda r: handler(r, 1 + len(calls)))
    ) as http:
        response = http.post(
            "https://daf.test/x", content=b"ids", extensions={"dafclient.idempotent": True}
        )
        assert response.json() == ["ok"]
        with pytest.raises(httpx.ReadTimeout):
            calls.clear()
            http.post("https://daf.test/x", content=b"ids")
    assert calls == ["POST"]


def test_no_retry_starts_when_its_wait_would_outlast_the_deadline() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "30"}, json={"message": "busy"})

    slept: list[float] = []
    client, seen = _client(handler, timeouts=Timeouts(total=5.0))
    with client:
        client._http._sleep = slept.append  # type: ignore[attr-defined]
        with pytest.raises(ServerError) as caught:
            client.schema.get_schemas()
    assert caught.value.status == 503
    assert len(seen) == 1 and slept == []


def test_each_attempt_gets_only_the_time_left() -> None:
    now = [100.0]
    budget = Budget(deadline=2.0, clock=lambda: now[0])
    policy = RetryPolicy(FAST, deadline=2.0, clock=lambda: now[0])
    request = httpx.Request(
        "GET",
        "https://daf.test/x",
        extensions={
            "timeout": {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0},
            "dafclient.budget": budget,
        },
    )
    attempts = policy.start(request)
    now[0] = 101.5
    attempts.begin()
    assert request.extensions["timeout"] == pytest.approx(
        {"connect": 0.5, "read": 0.5, "write": 0.5, "pool": 0.5}
    )
    assert attempts.after_error(httpx.ReadTimeout("late", request=request)) is not None
    now[0] = 102.0
    assert attempts.after_error(httpx.ReadTimeout("late", request=request)) is None
    assert len(budget.made) == 2
    assert "2 attempts in 2.00 s (deadline 2 s)" in budget.summary()


def test_a_timeout_without_retries_left_is_a_request_timeout() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("stalled", request=request)

    client, seen = _client(handler, retries=RetrySettings(max_retries=2, backoff=0.0))
    with client, pytest.raises(RequestTimeoutError) as caught:
        client.schema.get_schemas()
    assert len(seen) == 3
    assert "gave up after 3 attempts" in str(caught.value)


@pytest.mark.parametrize("message", ["timed out", "", "The read operation timed out"])
def test_a_timeout_is_described_by_its_kind_whatever_its_message(message: str) -> None:
    """httpx's sync transport says "timed out", its async one nothing: both read alike."""

    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ReadTimeout(message, request=request)
        raise httpx.ConnectError("connection refused", request=request)

    client, _ = _client(handler, retries=RetrySettings(max_retries=1, backoff=0.0))
    with client, pytest.raises(ConnectionFailedError) as caught:
        client.schema.get_schemas()
    first, second = caught.value.attempts
    assert re.search(f"{SCHEMAS}: ReadTimeout after [0-9.]+ s$", first)
    assert re.search(f"{SCHEMAS}: ConnectError: connection refused after [0-9.]+ s$", second)


def test_a_long_call_that_gets_answers_is_not_cut_but_a_stall_is() -> None:
    """The deadline counts from the call's start or its last answer."""
    now = [0.0]
    stalled = [False]

    def respond(request: httpx.Request) -> httpx.Response:
        now[0] += 0.8  # each answer takes 0.8 of the 1 s deadline
        if stalled[0]:
            raise httpx.ReadTimeout("stalled", request=request)
        return httpx.Response(200, json=[request.url.path])

    def batches(n: int) -> Plan[list[str]]:
        got = []
        for i in range(n):
            got.append(read_json(call := Call("GET", f"https://daf.test/{i}"), (yield call))[0])
        return got

    policy = RetryPolicy(FAST, deadline=1.0, clock=lambda: now[0])
    with RetryingClient(policy=policy, transport=httpx.MockTransport(respond)) as http:
        assert drive(batches(5), http) == [f"/{i}" for i in range(5)]
        assert now[0] == pytest.approx(4.0)
        stalled[0] = True
        with pytest.raises(RequestTimeoutError) as caught:
            drive(batches(5), http)
    # 0.8 s into the deadline after the first timeout; a retry would need the time left.
    assert len(caught.value.attempts) == 2
