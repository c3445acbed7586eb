"""A tiny deployment shared by the read-only chunkedgraph service tests (edits use their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chunkedgraph_service_support import Site, site


@pytest.fixture(scope="session")
def cg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Never edited: answers can be compared with the dataset manifest's scripted history."""
    with site(tmp_path_factory.mktemp("chunkedgraph_service")) as running:
        yield running
