"""FrameworkClient and AsyncFrameworkClient: one client for every DAF service of a datastack."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

import httpx

from dafclient._context import ApiVersionRequest, ClientContext
from dafclient.config import (
    RetrySettings,
    Timeouts,
    default_server_address,
    normalize_server,
)
from dafclient.errors import ConfigurationError
from dafclient.tokens import find_token
from dafclient.transport import TokenAuth, TrustedServers, build_async_client, build_sync_client

if TYPE_CHECKING:
    from dafclient.imagery import ImageryClient
    from dafclient.lookup import LookupClient
    from dafclient.services.annotation import AnnotationClient, AsyncAnnotationClient
    from dafclient.services.auth import AsyncAuthClient, AuthClient
    from dafclient.services.chunkedgraph import AsyncChunkedGraphClient, ChunkedGraphClient
    from dafclient.services.info import AsyncInfoServiceClient, InfoServiceClient
    from dafclient.services.l2cache import AsyncL2CacheClient, L2CacheClient
    from dafclient.services.materialize import AsyncMaterializeClient, MaterializeClient
    from dafclient.services.schema import AsyncSchemaClient, SchemaClient
    from dafclient.services.state import AsyncJSONService, JSONService
    from dafclient.timestamps import TimestampLike

KNOWN_SERVICES = frozenset(
    {"auth", "info", "schema", "state", "annotation", "chunkedgraph", "l2cache", "materialize"}
)


C = TypeVar("C")


class SubClient(Generic[C]):
    """A service client of a framework client, created on first access and then kept.

    ``local`` services (annotation, chunkedgraph) need a datastack; ``alias_of`` makes a second
    name for the same instance (the original client called ``schema`` ``schemas``).
    """

    def __init__(
        self,
        factory: str,
        *,
        doc: str,
        local: bool = False,
        alias_of: str | None = None,
    ) -> None:
        self._factory = factory
        """``module:Class``, imported on first use so that importing dafclient stays cheap."""
        self._local = local
        self._alias_of = alias_of
        self.__doc__ = doc

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = self._alias_of or name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: _FrameworkBase, owner: type[Any]) -> C: ...
    def __get__(self, obj: _FrameworkBase | None, owner: type[Any]) -> Self | C:
        if obj is None:
            return self
        cache = obj._services
        if self._name not in cache:
            if self._local:
                obj._require_datastack(self._name)
            options = obj._service_options(self._name)
            module, _, name = self._factory.partition(":")
            factory = getattr(importlib.import_module(module), name)
            cache[self._name] = factory(obj._http, obj._ctx, **options)
        client: C = cache[self._name]
        return client


class _FrameworkBase:
    """Configuration shared by the sync and async framework clients."""

    _http: Any

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
        global_only: bool = False,
        *,
        dataset_name: str | None = None,
        api_versions: Mapping[str, ApiVersionRequest] | None = None,
        timeouts: Timeouts | None = None,
        retries: RetrySettings | None = None,
        allow_insecure_http: bool = False,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
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
        self._services: dict[str, Any] = {}
        self._ctx = ClientContext(
            server_address=server,
            datastack_name=None if global_only else datastack_name or dataset_name,
            auth=TokenAuth(source.token, TrustedServers(server)),
            timeouts=timeouts or Timeouts(),
            retries=retries or RetrySettings(),
            api_versions=api_versions,
            allow_insecure_http=allow_insecure_http,
        )
        self._http = self._connect(transport)

    def _connect(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> Any:
        """The pooled httpx client every sub-client sends through."""
        raise NotImplementedError

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

    def change_auth(
        self,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        """Switch to another token (given, or read from another file or key); ``None`` keeps
        the current file and key. Every sub-client uses the new token from the next request on."""
        if auth_token_file is not None:
            self._token_file = auth_token_file
        if auth_token_key is not None:
            self._token_key = auth_token_key
        source = find_token(
            self.server_address,
            auth_token=auth_token,
            auth_token_file=self._token_file,
            auth_token_key=self._token_key,
        )
        self._ctx.auth.set_token(source.token)
        self._token_origin = source.origin
        self._services.pop("auth", None)

    def _service_options(self, service: str) -> dict[str, Any]:
        if service == "auth":
            return {"token_file": self._token_file, "token_key": self._token_key}
        return {}

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
        auth_token_file, auth_token_key, auth_token: where the token comes from (see
            :mod:`dafclient.tokens` for the search order when none is given). The positional
            order is the original client's and CAVEclient's.
        global_only: ignore ``datastack_name`` and make a client of the global services only.
        api_versions: per service, ``"latest"`` (negotiated with the server) or a version number.
        timeouts, retries: transport settings (every request has a timeout).
        allow_insecure_http: permit plain ``http://`` to a non-loopback server.
        transport: an httpx transport to send through (tests, proxies).

    Sub-clients are created on first use and share one pooled HTTP connection pool. The
    datastack's record is fetched from the info service when a local service first needs it.
    """

    def _connect(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> Any:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise ConfigurationError("FrameworkClient needs a sync transport (httpx.BaseTransport)")
        return build_sync_client(self._ctx.auth, self._ctx.timeouts, self._ctx.retries, transport)

    auth: SubClient[AuthClient] = SubClient(
        "dafclient.services.auth:AuthClient",
        doc="The auth service client (your token; token and user look-ups).",
    )
    info: SubClient[InfoServiceClient] = SubClient(
        "dafclient.services.info:InfoServiceClient",
        doc="The info service client (datastack records, sources).",
    )
    schema: SubClient[SchemaClient] = SubClient(
        "dafclient.services.schema:SchemaClient",
        doc="The schema service client (annotation types, JSON Schemas).",
    )
    schemas: SubClient[SchemaClient] = SubClient(
        "dafclient.services.schema:SchemaClient",
        alias_of="schema",
        doc="The original client's name for schema.",
    )
    state: SubClient[JSONService] = SubClient(
        "dafclient.services.state:JSONService",
        doc="The JSON state service client (Neuroglancer states).",
    )
    chunkedgraph: SubClient[ChunkedGraphClient] = SubClient(
        "dafclient.services.chunkedgraph:ChunkedGraphClient",
        local=True,
        doc="The datastack's chunkedgraph (segmentation) client.",
    )
    annotation: SubClient[AnnotationClient] = SubClient(
        "dafclient.services.annotation:AnnotationClient",
        local=True,
        doc="The datastack's annotation (AnnotationEngine) client.",
    )
    l2cache: SubClient[L2CacheClient] = SubClient(
        "dafclient.services.l2cache:L2CacheClient",
        local=True,
        doc="The datastack's L2 cache client (per-L2-node shape features).",
    )
    materialize: SubClient[MaterializeClient] = SubClient(
        "dafclient.services.materialize:MaterializeClient",
        local=True,
        doc="The datastack's materialization client (versions and queries of annotation tables).",
    )

    def make_lookup_client(
        self,
        timestamp: TimestampLike | None = None,
        segmentation_mip: int = 0,
        voxel_resolution: Any = None,
        **kwargs: Any,
    ) -> LookupClient:
        """A :class:`~dafclient.lookup.LookupClient` for this datastack (supervoxel and root ids
        under points); keyword arguments go to its constructor."""
        from dafclient.lookup import LookupClient

        self._require_datastack("lookup")
        return LookupClient(
            self,
            timestamp=timestamp,
            segmentation_mip=segmentation_mip,
            voxel_resolution=voxel_resolution,
            **kwargs,
        )

    def make_imagery_client(
        self,
        image_mip: int = 0,
        segmentation_mip: int | None = None,
        base_resolution: Any = None,
        timestamp: TimestampLike | None = None,
        **kwargs: Any,
    ) -> ImageryClient:
        """An :class:`~dafclient.imagery.ImageryClient` for this datastack (aligned image and
        segmentation cutouts); keyword arguments go to its constructor."""
        from dafclient.imagery import ImageryClient

        self._require_datastack("imagery")
        return ImageryClient(
            self,
            image_mip=image_mip,
            segmentation_mip=segmentation_mip,
            base_resolution=base_resolution,
            timestamp=timestamp,
            **kwargs,
        )

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

    def _connect(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> Any:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ConfigurationError(
                "AsyncFrameworkClient needs an async transport (httpx.AsyncBaseTransport)"
            )
        return build_async_client(self._ctx.auth, self._ctx.timeouts, self._ctx.retries, transport)

    auth: SubClient[AsyncAuthClient] = SubClient(
        "dafclient.services.auth:AsyncAuthClient", doc="The auth service client."
    )
    info: SubClient[AsyncInfoServiceClient] = SubClient(
        "dafclient.services.info:AsyncInfoServiceClient", doc="The info service client."
    )
    schema: SubClient[AsyncSchemaClient] = SubClient(
        "dafclient.services.schema:AsyncSchemaClient", doc="The schema service client."
    )
    schemas: SubClient[AsyncSchemaClient] = SubClient(
        "dafclient.services.schema:AsyncSchemaClient",
        alias_of="schema",
        doc="The original name of schema.",
    )
    state: SubClient[AsyncJSONService] = SubClient(
        "dafclient.services.state:AsyncJSONService", doc="The JSON state service client."
    )
    chunkedgraph: SubClient[AsyncChunkedGraphClient] = SubClient(
        "dafclient.services.chunkedgraph:AsyncChunkedGraphClient",
        local=True,
        doc="The chunkedgraph client.",
    )
    annotation: SubClient[AsyncAnnotationClient] = SubClient(
        "dafclient.services.annotation:AsyncAnnotationClient",
        local=True,
        doc="The annotation client.",
    )
    l2cache: SubClient[AsyncL2CacheClient] = SubClient(
        "dafclient.services.l2cache:AsyncL2CacheClient",
        local=True,
        doc="The L2 cache client.",
    )
    materialize: SubClient[AsyncMaterializeClient] = SubClient(
        "dafclient.services.materialize:AsyncMaterializeClient",
        local=True,
        doc="The materialization client.",
    )

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
