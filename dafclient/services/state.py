"""The JSON state service: upload and download Neuroglancer states and segment properties."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import numpy as np

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Call, Plan, async_op, drive, read_json, run_now, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding, datastack_record
from dafclient._wire.state_legacy.api.state import get_state as get_state_legacy
from dafclient._wire.state_legacy.api.state import post_state as post_state_legacy
from dafclient._wire.state_v1.api.state import (
    get_property,
    get_state,
    post_property,
    post_property_with_id,
    post_state,
    post_state_with_id,
)
from dafclient.errors import ConfigurationError, InputError, ResponseFormatError
from dafclient.timestamps import TimestampLike, to_epoch_seconds

STATE_API = ApiVersions("state", known=(0, 1), versions_path=None)
"""0 is the legacy ``/nglstate/...`` API; 1 is ``/nglstate/api/v1``. The service has no versions
route, so ``"latest"`` means 1."""

DEFAULT_MAX_PROPERTY_BYTES = 2_500_000
_ID_IN_URL = re.compile(r"/(\d+)/?$")


def neuroglancer_json(value: Any) -> Any:
    """``value`` made JSON-ready the Neuroglancer way.

    64-bit numpy integers (segment ids, which JavaScript numbers cannot hold exactly) become
    decimal strings, alone or in arrays; other numpy numbers become plain numbers, arrays lists,
    datetimes ISO strings and sets lists. Python ints are left as they are.
    """
    if isinstance(value, dict):
        return {str(k): neuroglancer_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [neuroglancer_json(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iu" and value.dtype.itemsize == 8:
            return [neuroglancer_json(item) for item in value]
        return neuroglancer_json(value.tolist())
    if isinstance(value, (np.uint64, np.int64)):
        return str(int(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def state_id_from_url(url: str) -> int:
    """The state id at the end of a state URL (``…/nglstate/api/v1/5629499534213120``)."""
    match = _ID_IN_URL.search(url.strip())
    if match is None:
        raise InputError(f"no state id at the end of {url!r}")
    return int(match.group(1))


class StateClientBase(ServiceClient):
    """Plans of the state client; see :class:`JSONService`."""

    API = STATE_API

    def __init__(self, *args: Any, ngl_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ngl_url = ngl_url

    @property
    def ngl_url(self) -> str | None:
        """The Neuroglancer deployment used by :meth:`build_neuroglancer_url`."""
        return self._ngl_url

    @ngl_url.setter
    def ngl_url(self, value: str | None) -> None:
        self._ngl_url = value

    def _prefix(self) -> Plan[str]:
        server = yield from self._server()
        version = yield from self._api_version()
        return f"{server}/nglstate/api/v1" if version == 1 else f"{server}/nglstate"

    def _state_url_template(self) -> Plan[str]:
        return (yield from self._prefix()) + "/{state_id}"

    @property
    def state_service_endpoint(self) -> str:
        """The URL states are posted to (CAVEclient's meaning); needs no request."""
        return run_now(self._prefix()) + "/post"

    def _get_state_json(self, state_id: int | str) -> Plan[Any]:
        """A state, by id or by URL (a URL on another host is fetched without your token)."""
        if isinstance(state_id, str) and not (state_id.isascii() and state_id.isdigit()):
            url = state_id.removeprefix("json_url=")
            if urlsplit(url).scheme not in {"http", "https"}:
                raise InputError(f"state_id: expected an id or an http(s) URL, got {state_id!r}")
            request = Call("GET", url)
        else:
            number = int(state_id)
            server = yield from self._server()
            if (yield from self._api_version()) == 1:
                request = gen.call(server, get_state.build_request(state_id=number))
            else:
                request = gen.call(server, get_state_legacy.build_request(state_id=number))
        return read_json(request, (yield request))

    def _upload(self, built: dict[str, Any], parser: Callable[[httpx.Response], str]) -> Plan[int]:
        """Send an upload request (a generated ``build_request``'s) and read the new id from the
        state's URL the route answers (its generated ``parse_success`` is ``parser``)."""
        request = gen.call((yield from self._server()), built)
        url = gen.read(parser, request, (yield request))
        if _ID_IN_URL.search(url.strip()) is None:
            raise ResponseFormatError(
                f"expected the new state's URL ending in its id, got {url!r:.80}",
                method="POST",
                url=request.url,
            )
        return state_id_from_url(url)

    def _upload_state_json(
        self, json_state: Any, state_id: int | None = None, timestamp: TimestampLike | None = None
    ) -> Plan[int]:
        """Store a state and return its id (an explicit ``state_id`` needs a superadmin)."""
        body = neuroglancer_json(json_state)
        version = yield from self._api_version()
        if state_id is None:
            if version == 1:
                return (
                    yield from self._upload(
                        post_state.build_request(body=body), post_state.parse_success
                    )
                )
            return (
                yield from self._upload(
                    post_state_legacy.build_request(body=body), post_state_legacy.parse_success
                )
            )
        if version != 1:
            raise ConfigurationError("uploading with an explicit state_id needs state API v1")
        at = None if timestamp is None else to_epoch_seconds(timestamp)
        built = post_state_with_id.build_request(state_id, body=body, timestamp=at)
        return (yield from self._upload(built, post_state_with_id.parse_success))

    def _get_property_json(self, state_id: int) -> Plan[Any]:
        """A segment-properties document by id."""
        request = gen.call(
            (yield from self._server()), get_property.build_request(state_id=int(state_id))
        )
        return read_json(request, (yield request))

    def _upload_property_json(
        self,
        property_json: Any,
        state_id: int | None = None,
        max_size: int | None = DEFAULT_MAX_PROPERTY_BYTES,
    ) -> Plan[int]:
        """Store a segment-properties document and return its id."""
        body = neuroglancer_json(property_json)
        size = len(json.dumps(body, separators=(",", ":")))
        if max_size is not None and size > max_size:
            raise InputError(
                f"property_json is {size} bytes of JSON, above max_size={max_size}; "
                "pass a larger max_size (or None) if the server accepts it"
            )
        if state_id is None:
            return (
                yield from self._upload(
                    post_property.build_request(body=body), post_property.parse_success
                )
            )
        built = post_property_with_id.build_request(int(state_id), body=body)
        return (yield from self._upload(built, post_property_with_id.parse_success))

    def _viewer(self, ngl_url: str | None) -> Plan[str]:
        viewer = ngl_url or self._ngl_url
        if viewer is None and self._ctx.datastack_name:
            viewer = (yield from datastack_record(self._ctx)).viewer_site
        if not viewer:
            raise ConfigurationError(
                "no Neuroglancer URL: pass ngl_url= (or set client.state.ngl_url)"
            )
        return viewer

    def _build_neuroglancer_url(
        self,
        state_id: int | str,
        ngl_url: str | None = None,
        target_site: str | None = None,
        static_url: bool = False,
        format_properties: bool = False,
    ) -> Plan[str]:
        """A viewer link that loads state ``state_id``: ``?json_url=`` for seunglab-style viewers
        (the default), ``#!middleauth+`` for spelunker/mainline Neuroglancer (``target_site``).

        ``static_url=True`` takes ``state_id`` as the URL of a JSON state to link to directly;
        ``format_properties=True`` gives the ``precomputed://middleauth+…`` source of the
        segment-properties document ``state_id`` instead of a viewer link."""
        if target_site not in (None, "seunglab", "spelunker", "mainline", "cave-explorer"):
            raise InputError(
                "target_site must be 'seunglab', 'spelunker', 'mainline' or 'cave-explorer', "
                f"got {target_site!r}"
            )
        if format_properties:
            prefix = yield from self._prefix()
            return f"precomputed://middleauth+{prefix}/property/{int(state_id)}"
        viewer = (yield from self._viewer(ngl_url)).rstrip("/")
        if static_url:
            target = str(state_id)
        else:
            template = yield from self._state_url_template()
            target = template.format(state_id=int(state_id))
        if target_site in (None, "seunglab"):
            return f"{viewer}/?json_url={quote(target, safe=':/') if not static_url else target}"
        auth = "" if static_url else "middleauth+"
        return f"{viewer}/#!{auth}{target}"

    def _get_neuroglancer_info(self, ngl_url: str | None = None) -> Plan[dict[str, Any]]:
        """The ``version.json`` of a Neuroglancer deployment (default: this client's viewer),
        or ``{}`` when it has none (seunglab-style viewers). Sent without your token."""
        viewer = (yield from self._viewer(ngl_url)).rstrip("/")
        request = Call("GET", f"{viewer}/version.json", accept=frozenset({404}))
        response = yield request
        if response.status_code == 404:
            return {}
        data = read_json(request, response)
        if not isinstance(data, dict):
            raise ResponseFormatError(
                "expected a JSON object in version.json", method="GET", url=request.url
            )
        return data

    @staticmethod
    def save_state_json_local(
        json_state: Any, filename: str | os.PathLike[str], overwrite: bool = False
    ) -> Path:
        """Write a state to a local JSON file (refusing to replace one unless ``overwrite``)."""
        path = Path(filename).expanduser()
        if path.exists() and not overwrite:
            raise InputError(f"{path} exists; pass overwrite=True to replace it")
        path.write_text(json.dumps(neuroglancer_json(json_state), indent=2), encoding="utf-8")
        return path


class JSONService(SyncBinding, StateClientBase):
    """The Neuroglancer JSON state service (global server)."""

    @property
    def ngl_url(self) -> str | None:
        """The Neuroglancer deployment used by :meth:`build_neuroglancer_url`: the one set, else
        the datastack's viewer site (as CAVEclient's full client), else None."""
        if self._ngl_url is None and self._ctx.datastack_name:
            return drive(datastack_record(self._ctx), self._http).viewer_site
        return self._ngl_url

    @ngl_url.setter
    def ngl_url(self, value: str | None) -> None:
        self._ngl_url = value

    get_state_json = sync_op(StateClientBase._get_state_json)
    upload_state_json = sync_op(StateClientBase._upload_state_json)
    get_property_json = sync_op(StateClientBase._get_property_json)
    upload_property_json = sync_op(StateClientBase._upload_property_json)
    build_neuroglancer_url = sync_op(StateClientBase._build_neuroglancer_url)
    get_neuroglancer_info = sync_op(StateClientBase._get_neuroglancer_info)


class AsyncJSONService(AsyncBinding, StateClientBase):
    """:class:`JSONService` with coroutine methods."""

    get_state_json = async_op(StateClientBase._get_state_json)
    upload_state_json = async_op(StateClientBase._upload_state_json)
    get_property_json = async_op(StateClientBase._get_property_json)
    upload_property_json = async_op(StateClientBase._upload_property_json)
    build_neuroglancer_url = async_op(StateClientBase._build_neuroglancer_url)
    get_neuroglancer_info = async_op(StateClientBase._get_neuroglancer_info)
