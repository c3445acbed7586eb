"""A deployment of its own for contract tests (schemathesis writes random data into it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_support import ContractServer

from dafserver.runner import running_server
from dafserver.seed import DEFAULT_GROUP


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    data_dir: Path = tmp_path_factory.mktemp("contract")
    with running_server(data_dir, size="tiny") as server:
        auth = server.deployment.auth
        user = auth.create_user("contract", "contract@dafserver.local", admin=True)
        auth.add_to_group(user, DEFAULT_GROUP)
        spare = auth.create_user("spare", "spare@dafserver.local")
        auth.add_to_group(spare, DEFAULT_GROUP)
        yield ContractServer(server, auth.create_token(user), auth.create_token(spare))
