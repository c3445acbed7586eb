"""Shared types of the contract tests."""

from __future__ import annotations

from dataclasses import dataclass

from dafserver.runner import LocalServer


@dataclass(frozen=True)
class ContractServer:
    server: LocalServer
    token: str
    """A superadmin with every permission on the dataset."""
    spare_token: str
    """A second user's token, for operations that invalidate the token they are called with."""
