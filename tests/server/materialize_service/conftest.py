"""The small-dataset deployment of the plugin, an admin HTTP client for it, and its versions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dafserver.deployment import Deployment
from dafserver.runner import LocalServer


@pytest.fixture(scope="session")
def http(daf_server: LocalServer) -> Iterator[httpx.Client]:
    """An httpx client with the admin token."""
    with httpx.Client(
        base_url=daf_server.base_url,
        headers={"Authorization": f"Bearer {daf_server.admin_token}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def deployment(daf_server: LocalServer) -> Deployment:
    return daf_server.deployment


@pytest.fixture(scope="session")
def versions(http: httpx.Client) -> tuple[int, int]:
    """The seeded valid versions: (before the edits, after the edits)."""
    response = http.get("/materialize/api/v3/datastack/synthetic/versions")
    numbers = sorted(response.json())
    assert len(numbers) >= 2
    return numbers[0], numbers[1]


@pytest.fixture(scope="session")
def daf_server_url(daf_server: LocalServer) -> str:
    return daf_server.base_url
