"""Facade tests run against a dafserver with the small dataset (``daf_server`` fixture)."""

from __future__ import annotations

import pytest

from dafserver.runner import LocalServer
from dafserver.seed import SeedRecord, load_seed_record


@pytest.fixture(scope="session")
def seed(daf_server: LocalServer) -> SeedRecord:
    record = load_seed_record(daf_server.deployment.data_dir)
    assert record is not None
    return record
