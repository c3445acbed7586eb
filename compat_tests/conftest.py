"""Fixtures for running CAVEclient itself, unchanged, against a local dafserver.

These tests live outside ``testpaths`` and run only in ``nox -s compat``, whose virtualenv has
CAVEclient 8.2.1 (it pins pandas<3, so it cannot share the main test environment). The
``daf_server`` fixture comes from dafserver's pytest plugin.
"""

from __future__ import annotations

from typing import Any

import pytest

from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK


@pytest.fixture
def cave(daf_server: LocalServer) -> Any:
    """A CAVEclient for the synthetic datastack, authenticated as the admin."""
    from caveclient import CAVEclient

    return CAVEclient(
        DATASTACK,
        server_address=daf_server.base_url,
        auth_token=daf_server.admin_token,
        write_server_cache=False,
    )
