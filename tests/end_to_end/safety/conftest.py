"""Safety tests: token handling and bad input, against a dafserver with the small dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from safety_support import NO_RETRIES, MakeClient

from dafclient import FrameworkClient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


@pytest.fixture(autouse=True)
def _no_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DAF_AUTH_TOKEN", "DAF_AUTH_TOKEN_FILE", "DAF_SECRETS_DIR", "DAF_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def token(daf_server: LocalServer) -> str:
    return daf_server.admin_token


@pytest.fixture
def client(daf_server: LocalServer) -> Iterator[FrameworkClient]:
    with FrameworkClient(
        DATASTACK,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        retries=NO_RETRIES,
    ) as c:
        yield c


@pytest.fixture
def make_client(daf_server: LocalServer) -> Iterator[MakeClient]:
    """A FrameworkClient on the datastack sending through ``transport`` (closed afterwards)."""
    made: list[FrameworkClient] = []

    def make(transport: httpx.BaseTransport, **options: Any) -> FrameworkClient:
        c = FrameworkClient(
            DATASTACK,
            server_address=daf_server.base_url,
            auth_token=daf_server.admin_token,
            transport=transport,
            retries=NO_RETRIES,
            **options,
        )
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
