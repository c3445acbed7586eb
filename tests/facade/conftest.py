"""Facade tests run against a dafserver with the small dataset (``daf_server`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from dafclient import AsyncFrameworkClient, FrameworkClient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK, SeedRecord, load_seed_record


@pytest.fixture(scope="session")
def seed(daf_server: LocalServer) -> SeedRecord:
    record = load_seed_record(daf_server.deployment.data_dir)
    assert record is not None
    return record


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
