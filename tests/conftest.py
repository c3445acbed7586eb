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
