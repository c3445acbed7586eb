"""The token never shows in reprs, exception texts or log records."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import httpx
import pytest
from safety_support import NO_RETRIES, Intercepting, MakeClient, assert_token_absent

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafclient.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    DafError,
    InputError,
    NotFoundError,
    RequestTimeoutError,
    ResponseFormatError,
    UnprocessableError,
)
from dafclient.tokens import TokenSource, find_token
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK

SUB_CLIENTS = ("auth", "info", "schema", "schemas", "state", "chunkedgraph", "annotation")
UNKNOWN_NODE = 123456


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_public_objects_do_not_show_the_token(client: FrameworkClient, token: str) -> None:
    assert_token_absent(token, client)
    assert_token_absent(token, client._ctx)
    assert_token_absent(token, client._ctx.auth)
    assert client._ctx.auth.token == token  # the check above looked at a client holding it
    for name in SUB_CLIENTS:
        assert_token_absent(token, getattr(client, name))
    assert_token_absent(token, find_token(client.server_address, auth_token=token))
    assert_token_absent(token, TokenSource(token, "somewhere"))


async def test_async_objects_do_not_show_the_token(daf_server: LocalServer, token: str) -> None:
    async with AsyncFrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=token
    ) as aclient:
        assert_token_absent(token, aclient)
        for name in SUB_CLIENTS:
            assert_token_absent(token, getattr(aclient, name))
        with pytest.raises(NotFoundError) as caught:
            await aclient.chunkedgraph.get_leaves(UNKNOWN_NODE)
        assert_token_absent(token, caught.value)


def _failures(client: FrameworkClient, make_client: MakeClient, base_url: str) -> list[DafError]:
    """One exception of every kind a call can end in, from a client holding the admin token."""
    errors: list[DafError] = []

    def collect(call: object, *args: object, **kwargs: object) -> None:
        with pytest.raises(DafError) as caught:
            call(*args, **kwargs)  # type: ignore[operator]
        errors.append(caught.value)

    collect(client.chunkedgraph.get_leaves, UNKNOWN_NODE)
    collect(
        client.annotation.post_annotation,
        "cell_types",
        [{"pt": {"position": [1, 2]}}],
        validate=False,  # so the service refuses it (422)
    )
    collect(client.state.get_state_json, f"{base_url}/nglstate/api/v1/1")
    collect(client.chunkedgraph.get_roots, [-1])

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("the server did not answer", request=request)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>not json</html>")

    for marker, handler in (("/leaves", timeout), ("/leaves", garbage)):
        intercepting = Intercepting(marker, handler)
        collect(make_client(intercepting.transport).chunkedgraph.get_leaves, 1)
        intercepting.close()
    refused = FrameworkClient(
        DATASTACK,
        server_address=f"http://127.0.0.1:{_closed_port()}",
        auth_token=client._ctx.auth.token,
        retries=NO_RETRIES,
    )
    collect(refused.chunkedgraph.get_roots, [1])
    refused.close()
    return errors


def test_exceptions_of_every_kind_do_not_show_the_token(
    client: FrameworkClient, make_client: MakeClient, daf_server: LocalServer, token: str
) -> None:
    errors = _failures(client, make_client, daf_server.base_url)
    kinds = {type(e) for e in errors}
    assert {
        NotFoundError,
        UnprocessableError,
        InputError,
        RequestTimeoutError,
        ResponseFormatError,
        ConnectionFailedError,
    } <= kinds
    for error in errors:
        assert_token_absent(token, error)


def test_a_rejected_token_is_not_shown_either(daf_server: LocalServer) -> None:
    wrong = "not-a-valid-token-" + "7" * 24
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=wrong, retries=NO_RETRIES
    ) as bad:
        assert_token_absent(wrong, bad)
        with pytest.raises(AuthenticationError) as caught:
            bad.auth.get_user_information([1])
    assert_token_absent(wrong, caught.value)


def test_a_token_in_a_url_is_redacted_from_errors(client: FrameworkClient, token: str) -> None:
    url = f"{client.server_address}/nglstate/api/v1/1?middle_auth_token={token}"
    with pytest.raises(NotFoundError) as caught:
        client.state.get_state_json(url)
    assert "middle_auth_token=%2A%2A%2A" in caught.value.url or "***" in caught.value.url
    assert_token_absent(token, caught.value)


def test_configuration_errors_do_not_show_the_token(tmp_path: Path) -> None:
    token = "abcdef0123456789" * 2
    bad_file = tmp_path / "secret.json"
    bad_file.write_text(f'["{token}"]', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        FrameworkClient(server_address="https://daf.example.org", auth_token_file=bad_file)
    assert str(bad_file) in str(caught.value)
    assert_token_absent(token, caught.value)


def test_log_records_never_hold_the_token(
    client: FrameworkClient,
    make_client: MakeClient,
    daf_server: LocalServer,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "dafclient"):
        caplog.set_level(logging.DEBUG, logger=name)
    seen_before = len(caplog.records)
    roots = client.chunkedgraph.get_roots([1, 2, 3])
    client.annotation.get_tables()
    client.info.get_datastack_info()
    client.auth.get_user_information([1])
    errors = _failures(client, make_client, daf_server.base_url)
    assert roots.size == 3 and errors
    records = caplog.records[seen_before:]
    loggers = {r.name.split(".")[0] for r in records}
    assert {"httpx", "httpcore"} <= loggers  # the capture did see the HTTP libraries' records
    for record in records:
        assert token not in record.getMessage(), record.name
        for arg in record.args if isinstance(record.args, tuple) else (record.args,):
            assert token not in repr(arg), record.name
        if record.exc_info and record.exc_info[1] is not None:
            assert_token_absent(token, record.exc_info[1])


def test_async_log_records_never_hold_the_token(
    daf_server: LocalServer, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def workload() -> None:
        async with AsyncFrameworkClient(
            DATASTACK, server_address=daf_server.base_url, auth_token=token
        ) as aclient:
            await aclient.chunkedgraph.get_roots([1, 2])
            with pytest.raises(NotFoundError):
                await aclient.chunkedgraph.get_leaves(UNKNOWN_NODE)

    asyncio.run(workload())
    assert any(r.name.startswith("httpx") for r in caplog.records)
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in repr(record.args)
