"""FrameworkClient and AsyncFrameworkClient: one client for every DAF service of a datastack."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

import httpx

from dafclient._context import ApiVersionRequest, ClientContext
from dafclient._plan import Plan, adrive, drive
from dafclient.config import (
    RetrySettings,
    Timeouts,
    default_server_address,
    normalize_server,
)
from dafclient.errors import ConfigurationError
from dafclient.resolutions import checked_resolution
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


def _checked_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigurationError(f"version must be an integer or None, not {version!r}")
    return version


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
        version: int | None = None,
        desired_resolution: Sequence[float] | None = None,
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
        self._version: int | None = None
        self._version_time: datetime | None = None
        if version is not None:
            self._require_datastack("version")
            self._version = _checked_version(version)
        self._desired_resolution = (
            None if desired_resolution is None else checked_resolution(desired_resolution)
        )

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
        if service == "materialize":
            return {"version": self._version, "desired_resolution": self._desired_resolution}
        if service == "chunkedgraph" and self._version is not None:
            return {"timestamp": self._pinned_time()}
        return {}

    @property
    def desired_resolution(self) -> tuple[float, float, float] | None:
        """The resolution (nm per voxel) materialization queries give positions in when they
        name none (``None``: each table's own)."""
        return self._desired_resolution

    # -- the pinned materialization version ---------------------------------------------------
    @property
    def version(self) -> int | None:
        """The materialization version queries use by default (``None``: the most recent);
        the chunkedgraph's default timestamp is that version's time (:attr:`timestamp`)."""
        return self._version

    def _pinned_time(self) -> datetime | None:
        """The pinned version's time, if already known."""
        return self._version_time

    def _version_plan(self, version: int) -> Plan[datetime]:
        from dafclient.services.materialize import MaterializeBase

        return MaterializeBase(self._ctx)._version_timestamp(version)

    def _pin(self, version: int | None, when: datetime | None) -> None:
        self._version, self._version_time = version, when
        if "materialize" in self._services:
            self._services["materialize"].version = version
        if "chunkedgraph" in self._services:
            self._services["chunkedgraph"].timestamp = when

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
        auth_token_file: a JSON token file to read the token from.
        auth_token_key: the key of the token in that file (default ``"token"``).
        auth_token: the token itself. Without any of the three, the token is searched for (see
            :mod:`dafclient.tokens` for the order). The positional order is the original
            client's and CAVEclient's.
        global_only: ignore ``datastack_name`` and make a client of the global services only.
        api_versions: per service, ``"latest"`` (negotiated with the server) or a version number.
        timeouts: connect/read/total timeouts (every request has one).
        retries: how transient failures are retried.
        allow_insecure_http: permit plain ``http://`` to a non-loopback server.
        transport: an httpx transport to send through (tests, proxies).
        version: pin a materialization version: ``client.materialize`` queries it by default and
            the chunkedgraph's default timestamp is its time (:attr:`version`,
            :attr:`timestamp`); checked on first use.
        desired_resolution: the resolution (nm per voxel, x, y, z) materialization queries give
            positions in when a query names none (CAVEclient's client-wide default).

    Sub-clients are created on first use and share one pooled HTTP connection pool. The
    datastack's record is fetched from the info service when a local service first needs it.
    """

    def _connect(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> Any:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise ConfigurationError("FrameworkClient needs a sync transport (httpx.BaseTransport)")
        return build_sync_client(self._ctx.auth, self._ctx.timeouts, self._ctx.retries, transport)

    @property
    def version(self) -> int | None:
        """The materialization version queries use by default (``None``: the most recent).
        Setting it checks the version exists and pins the chunkedgraph's default timestamp to
        its time."""
        return self._version

    @version.setter
    def version(self, value: int | None) -> None:
        self.set_version(value)

    @property
    def timestamp(self) -> datetime | None:
        """The pinned version's time (``None`` without a version): the chunkedgraph's default."""
        return self._pinned_time()

    def _pinned_time(self) -> datetime | None:
        if self._version is not None and self._version_time is None:
            self._version_time = drive(self._version_plan(self._version), self._http, "version")
        return self._version_time

    def set_version(self, version: int | None) -> None:
        """Pin the materialization version (and the chunkedgraph's default timestamp to its
        time); ``None`` unpins. An unknown version is an :class:`~dafclient.errors.InputError`."""
        if version is None:
            self._pin(None, None)
            return
        self._require_datastack("version")
        number = _checked_version(version)
        self._pin(number, drive(self._version_plan(number), self._http, "version"))

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

    @property
    def timestamp(self) -> datetime | None:
        """The pinned version's time, once known (after :meth:`set_version`)."""
        return self._version_time

    def _pinned_time(self) -> datetime | None:
        if self._version is not None and self._version_time is None:
            raise ConfigurationError(
                "the chunkedgraph's default timestamp follows the pinned version: "
                f"await client.set_version({self._version}) first"
            )
        return self._version_time

    async def set_version(self, version: int | None) -> None:
        """Pin the materialization version and the chunkedgraph's default timestamp to its
        time (the async client learns the time here); ``None`` unpins."""
        if version is None:
            self._pin(None, None)
            return
        self._require_datastack("version")
        number = _checked_version(version)
        self._pin(number, await adrive(self._version_plan(number), self._http, "version"))

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
