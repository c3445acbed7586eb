"""Fixtures shared by the test folders that run against the ``daf_server`` deployment (small
dataset): the plugin's framework clients under short names, and the dataset's manifest. A folder
that needs something else under the same name (e.g. a raw httpx ``client``) defines its own."""

from __future__ import annotations

from typing import Any

import pytest

from dafserver.dataset.manifest import DatasetManifest
from dafserver.runner import LocalServer


@pytest.fixture
def client(daf_client: Any) -> Any:
    """A FrameworkClient with the admin token (the plugin's ``daf_client``)."""
    return daf_client


@pytest.fixture
def aclient(daf_async_client: Any) -> Any:
    """An AsyncFrameworkClient with the admin token (the plugin's ``daf_async_client``)."""
    return daf_async_client


@pytest.fixture(scope="session")
def manifest(daf_server: LocalServer) -> DatasetManifest:
    found = daf_server.deployment.manifest
    assert found is not None
    return found
