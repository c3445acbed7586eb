"""Fixtures shared by the test folders that run against the ``daf_server`` deployment (small
dataset): the plugin's framework clients under short names, and the dataset's manifest. A folder
that needs something else under the same name (e.g. a raw httpx ``client``) defines its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dafclient import FrameworkClient
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


@pytest.fixture
def close_clients_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FrameworkClient]]:
    """Every FrameworkClient made during the test, closed at its end: for code run as a user
    would write it (documentation, notebooks), which leaves its clients open."""
    made: list[FrameworkClient] = []
    init = FrameworkClient.__init__

    def recording_init(self: FrameworkClient, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(FrameworkClient, "__init__", recording_init)
    yield made
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def manifest(daf_server: LocalServer) -> DatasetManifest:
    found = daf_server.deployment.manifest
    assert found is not None
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many documentation code blocks ran (``tests/end_to_end/docs`` records them per page; here,
    because under xdist only the top-level conftest is loaded by the controller)."""
    ran = skipped = pages = 0
    for report in terminalreporter.stats.get("passed", []):
        properties = dict(getattr(report, "user_properties", ()))
        if "doc_blocks_ran" in properties:
            pages += 1
            ran += properties["doc_blocks_ran"]
            skipped += properties["doc_blocks_skipped"]
    if pages:
        terminalreporter.write_line(
            f"documentation: {ran} code blocks ran on {pages} pages ({skipped} marked not to run)"
        )
