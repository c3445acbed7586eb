"""The documentation's examples run against a deployment of their own: the small synthetic
dataset (what ``dafclient serve`` builds by default, so the outputs shown are what a reader sees),
built once per test process and copied afresh for every page, so one page's edits and uploads
never change what another page shows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dafserver.deployment import Deployment
from dafserver.runner import LocalServer, running_server

DOCS_DATASET_SIZE = "small"


@pytest.fixture(scope="session")
def pristine_docs_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the dataset built and seeded, never served (copied per page)."""
    folder = tmp_path_factory.mktemp("docs-pristine") / "data"
    Deployment.open(folder, size=DOCS_DATASET_SIZE).close()
    return folder


@pytest.fixture
def page_server(pristine_docs_data: Path, tmp_path: Path) -> Iterator[LocalServer]:
    """A running deployment on a fresh copy of the pristine dataset."""
    folder = tmp_path / "data"
    shutil.copytree(pristine_docs_data, folder)
    with running_server(folder, size=DOCS_DATASET_SIZE) as server:
        yield server
