"""A tiny deployment of its own for the hardening tests (the fuzzer writes random data into it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The schemathesis harness (config builder, command) lives with the contract tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))

from contract_support import ContractServer

from dafserver.runner import running_server
from dafserver.seed import DEFAULT_GROUP


@pytest.fixture(scope="module")
def hardened_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    """A tiny deployment with a superadmin token and a spare user's token."""
    data_dir: Path = tmp_path_factory.mktemp("hardening")
    with running_server(data_dir, size="tiny") as server:
        auth = server.deployment.auth
        user = auth.create_user("hardening", "hardening@dafserver.local", admin=True)
        auth.add_to_group(user, DEFAULT_GROUP)
        spare = auth.create_user("spare", "spare@dafserver.local")
        auth.add_to_group(spare, DEFAULT_GROUP)
        yield ContractServer(server, auth.create_token(user), auth.create_token(spare))
