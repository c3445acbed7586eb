"""Fixtures shared by the test folders that run against the ``daf_server`` deployment (small
dataset): framework clients with the admin token and the dataset's manifest. A folder that needs
something else under the same name (e.g. a raw httpx ``client``) defines its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafserver.dataset.manifest import DatasetManifest
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


@pytest.fixture
def client(daf_server: LocalServer) -> Iterator[FrameworkClient]:
    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as c:
        yield c


@pytest.fixture
async def aclient(daf_server: LocalServer) -> AsyncIterator[AsyncFrameworkClient]:
    async with AsyncFrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as c:
        yield c


@pytest.fixture(scope="session")
def manifest(daf_server: LocalServer) -> DatasetManifest:
    found = daf_server.deployment.manifest
    assert found is not None
    return found
