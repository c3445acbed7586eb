"""The base of every service client: where the service lives and which API version it speaks."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from dafclient import _generated as gen
from dafclient._context import ApiVersions, ClientContext
from dafclient._plan import Plan
from dafclient._wire.info_v2.api.info import get_datastack_full
from dafclient._wire.info_v2.models import DataStackFull
from dafclient.config import normalize_server
from dafclient.errors import ConfigurationError


def datastack_record(
    context: ClientContext, datastack_name: str | None = None, use_stored: bool = True
) -> Plan[DataStackFull]:
    """The datastack's info record, fetched from the info service once and then cached."""
    name = context.require_datastack(datastack_name)
    if use_stored:
        cached = context.cached_datastack(name)
        if cached is not None:
            return cached
    request = gen.call(
        context.server_address, get_datastack_full.build_request(datastack_name=name)
    )
    response = yield request
    record = gen.parse(DataStackFull, request, response)
    context.remember_datastack(name, record)
    return record


class ServiceClient:
    """State shared by the sync and the async client of one service."""

    API: ClassVar[ApiVersions]
    LOCAL: ClassVar[bool] = False
    """True for services on the datastack's local server (annotation, segmentation)."""

    def __init__(self, context: ClientContext, server_address: str | None = None) -> None:
        self._ctx = context
        self.API.validate(context.requested_versions.get(self.API.service, "latest"))
        self._explicit_server = (
            None
            if server_address is None
            else normalize_server(server_address, allow_insecure_http=context.allow_insecure_http)
        )
        if self._explicit_server is not None:
            context.trusted.add(self._explicit_server)

    @property
    def datastack_name(self) -> str | None:
        """The datastack this client works on, if any."""
        return self._ctx.datastack_name

    def _server(self) -> Plan[str]:
        """The base URL of this service: given explicitly, the global server, or the local one."""
        if self._explicit_server is not None:
            return self._explicit_server
        if not self.LOCAL:
            return self._ctx.server_address
        record = yield from datastack_record(self._ctx)
        return normalize_server(
            record.local_server, allow_insecure_http=self._ctx.allow_insecure_http
        )

    def _api_version(self) -> Plan[int]:
        server = yield from self._server()
        return (yield from self._ctx.api_version(self.API, server))

    def _require_version(self, version: int, operation: str) -> Plan[None]:
        """Fail clearly when the negotiated API version lacks ``operation``."""
        actual = yield from self._api_version()
        if actual != version:
            raise ConfigurationError(
                f"{operation} needs {self.API.service} API v{version}; this client uses "
                f"v{actual} (set api_versions={{'{self.API.service}': {version}}} or 'latest')"
            )

    def __repr__(self) -> str:
        where = self._explicit_server or (
            "<local server>" if self.LOCAL else self._ctx.server_address
        )
        return f"{type(self).__name__}(server={where!r}, datastack={self.datastack_name!r})"


class SyncBinding:
    """Binds a service client to the blocking httpx client it sends through."""

    def __init__(self, http: httpx.Client, *args: Any, **kwargs: Any) -> None:
        self._http = http
        super().__init__(*args, **kwargs)


class AsyncBinding:
    """Binds a service client to the asyncio httpx client it sends through."""

    def __init__(self, http: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        self._http = http
        super().__init__(*args, **kwargs)
