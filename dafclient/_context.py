"""State shared by all service clients of one FrameworkClient: servers, token, API versions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from dafclient._plan import Call, Plan, read_json
from dafclient.config import RetrySettings, Timeouts
from dafclient.errors import ConfigurationError, DafError
from dafclient.transport import TokenAuth, TrustedServers

if TYPE_CHECKING:
    from dafclient._wire.info_v2.models import DataStackFull

log = logging.getLogger("dafclient")

ApiVersionRequest = int | str
"""An explicit API version number, or ``"latest"``."""


@dataclass(frozen=True)
class ApiVersions:
    """What the client knows about one service's API versions."""

    service: str
    known: tuple[int, ...]
    """Versions this client can speak, ascending."""
    versions_path: str | None
    """Route answering the server's versions (a JSON list), if the service has one."""

    def validate(self, requested: ApiVersionRequest) -> int | None:
        """The explicit version asked for (checked), or None for ``"latest"``."""
        if requested == "latest":
            return None
        if (
            isinstance(requested, int)
            and not isinstance(requested, bool)
            and requested in self.known
        ):
            return requested
        raise ConfigurationError(
            f"{self.service}: API version {requested!r} is not one this client speaks "
            f"(known: {', '.join(map(str, self.known))}, or 'latest')"
        )


class ClientContext:
    """Servers, credentials, settings and negotiated versions of one FrameworkClient."""

    def __init__(
        self,
        *,
        server_address: str,
        datastack_name: str | None,
        auth: TokenAuth,
        timeouts: Timeouts,
        retries: RetrySettings,
        api_versions: Mapping[str, ApiVersionRequest] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self.server_address = server_address
        # Plain http to a non-loopback host is refused for every server unless this is set.
        self.allow_insecure_http = allow_insecure_http
        self.datastack_name = datastack_name
        self.auth = auth
        self.timeouts = timeouts
        self.retries = retries
        self.requested_versions = dict(api_versions or {})
        self._negotiated: dict[tuple[str, str], int] = {}
        self._datastacks: dict[str, DataStackFull] = {}

    @property
    def trusted(self) -> TrustedServers:
        return self.auth.trusted

    def api_version(self, spec: ApiVersions, server: str) -> Plan[int]:
        """The API version to use with ``server``: the requested one, or negotiated once.

        Negotiation asks the service's versions route and takes the highest version both sides
        know. A service without such a route, or one that cannot be reached, falls back to the
        client's highest known version (the next real call then reports the real problem).
        """
        explicit = spec.validate(self.requested_versions.get(spec.service, "latest"))
        if explicit is not None:
            return explicit
        key = (spec.service, server)
        if key in self._negotiated:
            return self._negotiated[key]
        chosen = spec.known[-1]
        if spec.versions_path is not None:
            request = Call("GET", server + spec.versions_path, accept=frozenset({404, 405}))
            try:
                response = yield request
            except DafError as exc:
                log.debug(
                    "%s: version negotiation failed (%s); using %s", spec.service, exc, chosen
                )
            else:
                chosen = self._pick(spec, request, response)
        self._negotiated[key] = chosen
        return chosen

    @staticmethod
    def _pick(spec: ApiVersions, request: Call, response: httpx.Response) -> int:
        if response.status_code >= 400:
            return spec.known[-1]
        served = read_json(request, response)
        if not isinstance(served, list) or not all(isinstance(v, int) for v in served):
            return spec.known[-1]
        common = sorted(set(spec.known) & set(served))
        if not common:
            raise ConfigurationError(
                f"{spec.service}: the server speaks API versions {served}, this client "
                f"{list(spec.known)}; there is no version in common"
            )
        return common[-1]

    # -- the datastack record (needed by every service on the local server) -------------------
    def cached_datastack(self, name: str) -> DataStackFull | None:
        return self._datastacks.get(name)

    def remember_datastack(self, name: str, record: DataStackFull) -> None:
        self._datastacks[name] = record
        self.trusted.add(record.local_server)

    def forget_datastacks(self) -> None:
        self._datastacks.clear()

    def require_datastack(self, datastack_name: str | None = None) -> str:
        name = datastack_name or self.datastack_name
        if not name:
            raise ConfigurationError(
                "no datastack: pass datastack_name= to FrameworkClient (or to this method)"
            )
        return name
