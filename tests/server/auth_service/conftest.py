"""A running dafserver shared by the middle_auth route tests, and helpers to make callers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from auth_service_support import API, Account

from dafserver.auth.store import AuthStore
from dafserver.runner import LocalServer, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("auth_service")
    with running_server(data_dir, size=None) as local:
        yield local


@pytest.fixture
def store(server: LocalServer) -> AuthStore:
    return server.deployment.auth


@pytest.fixture
def http(server: LocalServer) -> Iterator[httpx.Client]:
    """A raw httpx client on the auth API of ``server`` (``client`` is always a FrameworkClient)."""
    with httpx.Client(base_url=server.base_url + API, timeout=10.0) as http:
        yield http


_serial = itertools.count(1)


@pytest.fixture
def make_account(store: AuthStore) -> Callable[..., Account]:
    """Create a user (unique name and e-mail) with one API key."""

    def make(prefix: str = "user", *, admin: bool = False) -> Account:
        n = next(_serial)
        name, email = f"{prefix} {n}", f"{prefix}{n}@example.org"
        user_id = store.create_user(name, email, admin=admin)
        return Account(user_id, name, email, store.create_token(user_id))

    return make


@pytest.fixture
def make_service_account(store: AuthStore) -> Callable[[Account], Account]:
    """Create a service account owned by ``parent``, with its API key."""

    def make(parent: Account) -> Account:
        n = next(_serial)
        name, email = f"service {n}", f"service{n}@service.example.org"
        user_id = store.create_service_account(name, email, parent.id)
        return Account(user_id, name, email, store.create_token(user_id))

    return make


@pytest.fixture
def server_admin_token(server: LocalServer) -> str:
    """The API key of the deployment's superadmin."""
    return server.admin_token
