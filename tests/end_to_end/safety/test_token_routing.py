"""Where the token may go: never across a redirect, never over plain http to a remote host."""

from __future__ import annotations

import httpx
import pytest
from safety_support import NO_RETRIES, recording_server

from dafclient import FrameworkClient
from dafclient.errors import ConfigurationError, DafHTTPError
from dafclient.services.chunkedgraph import ChunkedGraphClient
from dafclient.services.info import InfoServiceClient
from dafclient.services.state import JSONService
from dafclient.transport import TokenAuth, TrustedServers

TOKEN = "redirect-test-token-0123456789abcdef"


def test_dafclient_does_not_follow_a_redirect_to_another_host() -> None:
    with recording_server() as target, recording_server(redirect_to=target.url) as first:
        with FrameworkClient(
            server_address=first.url, auth_token=TOKEN, retries=NO_RETRIES
        ) as client:
            with pytest.raises(DafHTTPError) as caught:
                client.info.get_datastacks()
        assert caught.value.status == 302
        assert target.url in caught.value.message  # the error says where it was sent
        assert TOKEN not in str(caught.value)
        # (the first request may be the API version negotiation, which falls back on errors)
        assert first.headers
        assert all(h["authorization"] == f"Bearer {TOKEN}" for h in first.headers)
        assert target.headers == []


def test_an_httpx_client_following_redirects_does_not_carry_the_token() -> None:
    with recording_server() as target, recording_server(redirect_to=target.url) as first:
        auth = TokenAuth(TOKEN, TrustedServers(first.url))
        with httpx.Client(auth=auth, follow_redirects=True) as http:
            response = http.get(f"{first.url}/info/api/v2/datastacks")
        assert response.status_code == 200
        assert len(response.history) == 1 and response.history[0].status_code == 302
        assert first.headers[0]["authorization"] == f"Bearer {TOKEN}"
        assert len(target.headers) == 1
        assert "authorization" not in target.headers[0]


def test_token_auth_does_not_re_add_the_token_after_a_redirect() -> None:
    """The auth flow runs for the first request only: even a redirect target the auth would
    trust does not get the header back once httpx stripped it."""
    with recording_server() as target, recording_server(redirect_to=target.url) as first:
        auth = TokenAuth(TOKEN, TrustedServers(first.url, target.url))
        with httpx.Client(auth=auth, follow_redirects=True) as http:
            response = http.get(f"{first.url}/x")
        assert response.status_code == 200
        assert first.headers[0]["authorization"] == f"Bearer {TOKEN}"
        assert len(target.headers) == 1
        assert "authorization" not in target.headers[0]


@pytest.mark.parametrize("address", ["http://daf.example.org", "http://10.1.2.3:8000"])
def test_plain_http_to_a_remote_server_needs_consent(address: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FrameworkClient(server_address=address, auth_token=TOKEN)
    assert "allow_insecure_http" in str(caught.value)
    with FrameworkClient(
        server_address=address, auth_token=TOKEN, allow_insecure_http=True
    ) as client:
        assert client.server_address == address


@pytest.mark.parametrize("address", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(address: str) -> None:
    with FrameworkClient(server_address=address, auth_token=TOKEN) as client:
        assert client.server_address == address


@pytest.mark.parametrize("cls", [InfoServiceClient, JSONService, ChunkedGraphClient])
def test_an_explicit_service_address_needs_consent_too(cls: type[InfoServiceClient]) -> None:
    with FrameworkClient("stack", server_address="https://daf.example.org", auth_token=TOKEN) as c:
        with pytest.raises(ConfigurationError) as caught:
            cls(c._http, c._ctx, server_address="http://elsewhere.example.org")
        assert "elsewhere.example.org" in str(caught.value)
        assert "http://elsewhere.example.org" not in repr(c._ctx.trusted)
        secure = cls(c._http, c._ctx, server_address="https://elsewhere.example.org")
        assert "https://elsewhere.example.org" in repr(secure)
    with FrameworkClient(
        "stack", server_address="https://daf.example.org", allow_insecure_http=True
    ) as consenting:
        insecure = cls(consenting._http, consenting._ctx, server_address="http://elsewhere.org")
        assert "http://elsewhere.org" in repr(insecure)
