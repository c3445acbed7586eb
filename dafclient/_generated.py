"""The bridge to the generated request modules in ``dafgen``.

The facade owns the transport, so it uses the generated modules sans-I/O: each endpoint module's
request builder (``_get_kwargs``) gives the method, path, query and body exactly as the spec
declares them, and its parser (``_parse_response``) gives the typed model. Only this module touches
those names.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Protocol, TypeVar

import httpx

from dafclient._plan import NO_BODY, Call, read_json
from dafclient.errors import ResponseFormatError

T = TypeVar("T")


class _Endpoint(Protocol):
    def _get_kwargs(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


def call(
    endpoint: Any,
    server: str,
    *args: Any,
    idempotent: bool | None = None,
    accept: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> Call:
    """The :class:`Call` for generated ``endpoint`` on ``server`` with the given arguments."""
    built: dict[str, Any] = endpoint._get_kwargs(*args, **kwargs)
    content = built.get("content")
    if isinstance(content, BytesIO):
        content = content.getvalue()
    elif content is not None and not isinstance(content, bytes):
        content = content.read()
    return Call(
        method=str(built["method"]).upper(),
        url=server + built["url"],
        params=built.get("params") or None,
        json=built.get("json", NO_BODY),
        content=content,
        headers=built.get("headers") or None,
        idempotent=idempotent,
        accept=accept,
    )


def _from_dict(model: type[T], data: Any, request: Call, response: httpx.Response) -> T:
    try:
        return model.from_dict(data)  # type: ignore[attr-defined, no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResponseFormatError(
            f"response does not match {model.__name__}: {exc!r}",
            method=request.method,
            url=str(response.request.url),
        ) from exc


def parse(model: type[T], request: Call, response: httpx.Response) -> T:
    """``model.from_dict`` of the response JSON, or :class:`ResponseFormatError`."""
    return _from_dict(model, read_json(request, response), request, response)


def parse_list(model: type[T], request: Call, response: httpx.Response) -> list[T]:
    """A JSON array of ``model`` records, or :class:`ResponseFormatError`."""
    data = read_json(request, response)
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"expected a list of {model.__name__}",
            method=request.method,
            url=str(response.request.url),
        )
    return [_from_dict(model, item, request, response) for item in data]


class RawBody:
    """A request body already in JSON form, for a generated endpoint that wants a model.

    Generated request builders call ``body.to_dict()``; large bodies (10,000 annotations) skip
    building one attrs object per item this way.
    """

    def __init__(self, data: Any) -> None:
        self._data = data

    def to_dict(self) -> Any:
        return self._data
