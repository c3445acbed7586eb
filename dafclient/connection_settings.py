"""Picklable connection settings: what another process needs to make its own FrameworkClient.

Framework clients hold pooled HTTP connections and are never pickled. Work sent to other
processes (Dask workers) carries a :class:`ConnectionSettings` instead and connects there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dafclient.config import RetrySettings, Timeouts

if TYPE_CHECKING:
    from dafclient.framework import FrameworkClient


@dataclass(frozen=True)
class ConnectionSettings:
    """Server, datastack, token and transport settings of a framework client (hashable).

    It carries the token, so it is a secret like the token itself (it is left out of ``repr``).
    """

    server_address: str
    datastack_name: str | None
    token: str | None = field(repr=False)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retries: RetrySettings = field(default_factory=RetrySettings)
    api_versions: tuple[tuple[str, int | str], ...] = ()
    allow_insecure_http: bool = False
    version: int | None = None
    """The pinned materialization version, if any."""

    @classmethod
    def of(cls, client: FrameworkClient) -> ConnectionSettings:
        """The settings ``client`` was made with (its current token)."""
        ctx = client._ctx
        return cls(
            server_address=ctx.server_address,
            datastack_name=ctx.datastack_name,
            token=ctx.auth.token,
            timeouts=ctx.timeouts,
            retries=ctx.retries,
            api_versions=tuple(sorted(ctx.requested_versions.items())),
            allow_insecure_http=ctx.allow_insecure_http,
            version=client.version,
        )

    def connect(self) -> FrameworkClient:
        """A new framework client with these settings (close it when done)."""
        from dafclient.framework import FrameworkClient

        client = FrameworkClient(
            self.datastack_name,
            server_address=self.server_address,
            auth_token=self.token,
            api_versions=dict(self.api_versions),
            timeouts=self.timeouts,
            retries=self.retries,
            allow_insecure_http=self.allow_insecure_http,
            version=self.version,
        )
        client._ctx.auth.set_token(self.token)  # no token stays none: no search on this machine
        return client
