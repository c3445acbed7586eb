"""The deployment of the plugin's server, an admin httpx client for it and its seeded versions:
the same fixtures as the service tests'."""

from __future__ import annotations

from tests.server.materialize_service.conftest import deployment, http, versions

__all__ = ["deployment", "http", "versions"]
