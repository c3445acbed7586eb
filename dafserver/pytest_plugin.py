"""pytest fixtures for testing code against a local DAF deployment (installed as a plugin).

``daf_server`` (session): a dafserver with the small synthetic dataset on a free loopback port,
built once per test session in a temporary folder. ``daf_client`` / ``daf_async_client``: a
FrameworkClient / AsyncFrameworkClient for its datastack, authenticated as the admin.

Set ``DAFSERVER_DATA`` to reuse a data folder across sessions (the first run builds it), and
``DAFSERVER_DATABASE_SERVER`` to a PostgreSQL URL (``postgresql+psycopg://user@host/postgres``) to
keep the deployment's data in a database of its own on that server instead of a SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the plugin loads in every pytest run: import the server only when used
    from dafserver.runner import LocalServer


@pytest.fixture(scope="session")
def daf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A running dafserver with the small synthetic dataset."""
    from dafserver.runner import running_server

    configured = os.environ.get("DAFSERVER_DATA")
    data_dir = Path(configured) if configured else tmp_path_factory.mktemp("dafserver")
    with running_server(data_dir, size="small") as server:
        yield server


@pytest.fixture
def daf_client(daf_server: LocalServer) -> Iterator[object]:
    """A FrameworkClient for the synthetic datastack of :func:`daf_server`."""
    from dafclient import FrameworkClient
    from dafserver.seed import DATASTACK

    with FrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as client:
        yield client


@pytest.fixture
async def daf_async_client(daf_server: LocalServer) -> AsyncIterator[object]:
    """An AsyncFrameworkClient for the synthetic datastack of :func:`daf_server`."""
    from dafclient import AsyncFrameworkClient
    from dafserver.seed import DATASTACK

    async with AsyncFrameworkClient(
        DATASTACK, server_address=daf_server.base_url, auth_token=daf_server.admin_token
    ) as client:
        yield client
