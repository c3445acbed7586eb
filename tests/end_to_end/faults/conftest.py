"""Fault-injection tests: a tiny deployment built once, served with a fault setting per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from dafserver.faults import FaultConfig
from dafserver.runner import LocalServer, running_server

Serve = Callable[[FaultConfig | None], AbstractContextManager[LocalServer]]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults-deployment")
    with running_server(path, size="tiny"):
        pass
    return path


@pytest.fixture
def serve(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Start the tiny deployment with the given faults (the environment does not interfere)."""
    monkeypatch.delenv("DAFSERVER_FAULTS", raising=False)

    def start(faults: FaultConfig | None) -> AbstractContextManager[LocalServer]:
        return running_server(data_dir, size="tiny", faults=faults)

    yield start
