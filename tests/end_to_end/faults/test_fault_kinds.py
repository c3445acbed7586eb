"""Each fault kind, seen by a plain HTTP client."""

from __future__ import annotations

import httpx
import pytest

from dafserver.faults import FaultConfig, Phase
from tests.end_to_end.faults.conftest import Serve

DATASTACKS = "/info/api/v2/datastacks"


def _get(base_url: str, token: str, timeout: float = 5.0) -> httpx.Response:
    return httpx.get(
        base_url + DATASTACKS, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("kind", ["502", "504"])
def test_gateway_errors_have_an_html_page(serve: Serve, kind: str, phase: Phase) -> None:
    with serve(FaultConfig(rate=1.0, kinds=(kind,), phase=phase)) as server:
        response = _get(server.base_url, server.admin_token)
    assert response.status_code == int(kind)
    assert response.headers["content-type"].startswith("text/html")
    assert f"<title>{kind} " in response.text


def test_unavailable_is_json(serve: Serve) -> None:
    with serve(FaultConfig(rate=1.0, kinds=("503",))) as server:
        response = _get(server.base_url, server.admin_token)
    assert response.status_code == 503
    assert response.json()["code"] == 503


@pytest.mark.parametrize("retry_after", [0, 7])
def test_rate_limit_has_retry_after(serve: Serve, retry_after: int) -> None:
    with serve(FaultConfig(rate=1.0, kinds=("429",), retry_after=retry_after)) as server:
        response = _get(server.base_url, server.admin_token)
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(retry_after)


@pytest.mark.parametrize("phase", ["before", "after"])
def test_reset_closes_without_a_response(serve: Serve, phase: Phase) -> None:
    faults = FaultConfig(rate=1.0, kinds=("reset",), phase=phase, routes=(DATASTACKS,))
    with serve(faults) as server:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            _get(server.base_url, server.admin_token)
        # The server itself is fine: a fault-free route still answers on a new connection.
        assert httpx.get(server.base_url + "/info/api/versions", timeout=5).status_code == 200


def test_truncate_cuts_the_real_body(serve: Serve) -> None:
    faults = FaultConfig(rate=1.0, kinds=("truncate",), routes=(DATASTACKS,))
    with serve(faults) as server:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        with httpx.stream("GET", server.base_url + DATASTACKS, headers=headers) as response:
            assert response.status_code == 200
            declared = int(response.headers["content-length"])
            received = bytearray()
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    received += chunk
    assert 0 < len(received) < declared


@pytest.mark.parametrize("phase", ["before", "after"])
def test_hang_outlasts_the_client_timeout(serve: Serve, phase: Phase) -> None:
    faults = FaultConfig(rate=1.0, kinds=("hang",), phase=phase, hang_seconds=20.0)
    with serve(faults) as server, pytest.raises(httpx.ReadTimeout):
        _get(server.base_url, server.admin_token, timeout=0.3)


def test_hang_is_bounded(serve: Serve) -> None:
    faults = FaultConfig(rate=1.0, kinds=("hang",), hang_seconds=0.2)
    with serve(faults) as server:
        response = _get(server.base_url, server.admin_token, timeout=10.0)
    assert response.status_code == 504
