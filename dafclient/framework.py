"""FrameworkClient and AsyncFrameworkClient: one client for every DAF service of a datastack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import Any, Self

import httpx

from dafclient._context import ApiVersionRequest, ClientContext
from dafclient.config import (
    RetrySettings,
    Timeouts,
    default_server_address,
    normalize_server,
)
from dafclient.errors import ConfigurationError
from dafclient.services.annotation import AnnotationClient, AsyncAnnotationClient
from dafclient.services.auth import AsyncAuthClient, AuthClient
from dafclient.services.chunkedgraph import AsyncChunkedGraphClient, ChunkedGraphClient
from dafclient.services.info import AsyncInfoServiceClient, InfoServiceClient
from dafclient.services.schema import AsyncSchemaClient, SchemaClient
from dafclient.services.state import AsyncJSONService, JSONService
from dafclient.tokens import find_token
from dafclient.transport import TokenAuth, TrustedServers, build_async_client, build_sync_client

KNOWN_SERVICES = frozenset({"auth", "info", "schema", "state", "annotation", "chunkedgraph"})


class _FrameworkBase:
    """Configuration shared by the sync and async framework clients."""

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        *,
        dataset_name: str | None = None,
        api_versions: Mapping[str, ApiVersionRequest] | None = None,
        timeouts: Timeouts | None = None,
        retries: RetrySettings | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        if datastack_name and dataset_name and datastack_name != dataset_name:
            raise ConfigurationError(
                f"datastack_name={datastack_name!r} and dataset_name={dataset_name!r} disagree; "
                "they are two names for the same thing"
            )
        unknown = set(api_versions or {}) - KNOWN_SERVICES
        if unknown:
            raise ConfigurationError(
                f"api_versions: unknown service(s) {sorted(unknown)}; known: {sorted(KNOWN_SERVICES)}"
            )
        server = normalize_server(
            server_address or default_server_address(), allow_insecure_http=allow_insecure_http
        )
        source = find_token(
            server,
            auth_token=auth_token,
            auth_token_file=auth_token_file,
            auth_token_key=auth_token_key,
        )
        self._token_file = auth_token_file
        self._token_key = auth_token_key
        self._token_origin = source.origin
        self._ctx = ClientContext(
            server_address=server,
            datastack_name=datastack_name or dataset_name,
            auth=TokenAuth(source.token, TrustedServers(server)),
            timeouts=timeouts or Timeouts(),
            retries=retries or RetrySettings(),
            api_versions=api_versions,
        )

    @property
    def server_address(self) -> str:
        """The global server (auth, info, schema, state)."""
        return self._ctx.server_address

    @property
    def datastack_name(self) -> str | None:
        """The datastack this client works on (``None`` for a global-only client)."""
        return self._ctx.datastack_name

    @property
    def dataset_name(self) -> str | None:
        """The original client's name for :attr:`datastack_name`."""
        return self._ctx.datastack_name

    def _require_datastack(self, service: str) -> None:
        if not self.datastack_name:
            raise ConfigurationError(
                f"{service} needs a datastack: this client is global-only "
                "(pass datastack_name= to the framework client)"
            )

    def __repr__(self) -> str:
        token = "set" if self._ctx.auth.token else "none"
        return (
            f"{type(self).__name__}(datastack={self.datastack_name!r}, "
            f"server={self.server_address!r}, token={token})"
        )


class FrameworkClient(_FrameworkBase):
    """One client for every DAF service of a datastack (blocking).

    Args:
        datastack_name: the datastack to work on (``dataset_name`` is accepted too). Without it,
            only the global services (auth, info, schema, state) are usable.
        server_address: the global server; default ``$DAF_SERVER_ADDRESS`` or the public one.
        auth_token, auth_token_file, auth_token_key: where the token comes from (see
            :mod:`dafclient.tokens` for the search order when none is given).
        api_versions: per service, ``"latest"`` (negotiated with the server) or a version number.
        timeouts, retries: transport settings (every request has a timeout).
        allow_insecure_http: permit plain ``http://`` to a non-loopback server.
        transport: an httpx transport to send through (tests, proxies).

    Sub-clients are created on first use and share one pooled HTTP connection pool. The
    datastack's record is fetched from the info service when a local service first needs it.
    """

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            datastack_name, server_address, auth_token, auth_token_file, auth_token_key, **options
        )
        self._http = build_sync_client(
            self._ctx.auth, self._ctx.timeouts, self._ctx.retries, transport
        )

    @cached_property
    def auth(self) -> AuthClient:
        """The auth service client (your token; token and user look-ups)."""
        return AuthClient(
            self._http, self._ctx, token_file=self._token_file, token_key=self._token_key
        )

    @cached_property
    def info(self) -> InfoServiceClient:
        """The info service client (datastack records and data sources)."""
        return InfoServiceClient(self._http, self._ctx)

    @cached_property
    def schema(self) -> SchemaClient:
        """The schema service client (annotation types and their JSON Schemas)."""
        return SchemaClient(self._http, self._ctx)

    @property
    def schemas(self) -> SchemaClient:
        """The original client's name for :attr:`schema`."""
        return self.schema

    @cached_property
    def state(self) -> JSONService:
        """The JSON state service client (Neuroglancer states)."""
        return JSONService(self._http, self._ctx)

    @cached_property
    def chunkedgraph(self) -> ChunkedGraphClient:
        """The datastack's chunkedgraph (segmentation) client."""
        self._require_datastack("chunkedgraph")
        return ChunkedGraphClient(self._http, self._ctx)

    @cached_property
    def annotation(self) -> AnnotationClient:
        """The datastack's annotation (AnnotationEngine) client."""
        self._require_datastack("annotation")
        return AnnotationClient(self._http, self._ctx)

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncFrameworkClient(_FrameworkBase):
    """:class:`FrameworkClient` for asyncio: the same sub-clients, with coroutine methods."""

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            datastack_name, server_address, auth_token, auth_token_file, auth_token_key, **options
        )
        self._http = build_async_client(
            self._ctx.auth, self._ctx.timeouts, self._ctx.retries, transport
        )

    @cached_property
    def auth(self) -> AsyncAuthClient:
        """The auth service client."""
        return AsyncAuthClient(
            self._http, self._ctx, token_file=self._token_file, token_key=self._token_key
        )

    @cached_property
    def info(self) -> AsyncInfoServiceClient:
        """The info service client."""
        return AsyncInfoServiceClient(self._http, self._ctx)

    @cached_property
    def schema(self) -> AsyncSchemaClient:
        """The schema service client."""
        return AsyncSchemaClient(self._http, self._ctx)

    @property
    def schemas(self) -> AsyncSchemaClient:
        """The original client's name for :attr:`schema`."""
        return self.schema

    @cached_property
    def state(self) -> AsyncJSONService:
        """The JSON state service client."""
        return AsyncJSONService(self._http, self._ctx)

    @cached_property
    def chunkedgraph(self) -> AsyncChunkedGraphClient:
        """The datastack's chunkedgraph (segmentation) client."""
        self._require_datastack("chunkedgraph")
        return AsyncChunkedGraphClient(self._http, self._ctx)

    @cached_property
    def annotation(self) -> AsyncAnnotationClient:
        """The datastack's annotation (AnnotationEngine) client."""
        self._require_datastack("annotation")
        return AsyncAnnotationClient(self._http, self._ctx)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
