"""The bridge to the generated request modules in ``dafclient._wire``.

The facade owns the transport, so it uses the generated modules sans-I/O. Every endpoint module
has two public functions our template (``codegen/templates/openapi``) adds: ``build_request``,
the typed request builder (method, path, query and body exactly as the spec declares them; mypy
checks every argument), and ``parse_success``, the success body as its declared type. Requests
become :class:`Call` objects through :func:`call`; bodies are read through :func:`read` (or
:func:`parse` for a model), so a reply of the wrong shape is a :class:`ResponseFormatError`.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from io import BytesIO
from typing import Any, Protocol, TypeVar, cast

import attrs
import httpx

from dafclient._plan import NO_BODY, Call, read_json
from dafclient.errors import ResponseFormatError

T = TypeVar("T")


def call(
    server: str,
    built: dict[str, Any],
    *,
    idempotent: bool | None = None,
    accept: frozenset[int] = frozenset(),
) -> Call:
    """The :class:`Call` on ``server`` for a request a generated ``build_request`` made.

    Every request goes through a generated endpoint module's typed ``build_request``, so mypy
    checks each argument against the spec: ``gen.call(server, get_roots.build_request(table,
    body=...), idempotent=True)``.
    """
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


_MAPPING_METHODS = ("__getitem__", "__contains__", "get", "keys")
_readable_packages: set[str] = set()


def _record_getitem(self: Any, key: str) -> Any:
    """The key's value as the service sent it (a nested record as a dict), declared fields
    first, then the keys the spec does not declare."""
    data = self.to_dict()
    if key in data:
        return data[key]
    raise KeyError(key)


def _record_contains(self: Any, key: object) -> bool:
    return key in self.to_dict()


def _record_get(self: Any, key: str, default: Any = None) -> Any:
    """``record[key]``, or ``default`` when the record has no such key."""
    return self.to_dict().get(key, default)


def _record_keys(self: Any) -> Any:
    """The record's keys, as in the service's JSON."""
    return self.to_dict().keys()


def readable_as_mapping(model: type[Any]) -> None:
    """Make every generated record class of ``model``'s package answer ``record["key"]`` for
    its declared fields too, as the JSON dicts other clients return do.

    The generated models answer ``[]`` only for keys the spec does not declare; code written for
    CAVEclient reads ``client.info.get_datastack_info()["segmentation_source"]``. ``get`` and
    ``keys`` come along (so ``dict(record)`` works) unless the record has a field of that name.
    Attribute access and the typed values are unchanged.
    """
    package = model.__module__.rpartition(".")[0]
    if package in _readable_packages:
        return
    _readable_packages.add(package)
    importlib.import_module(package)
    prefix = package + "."
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == name:
                _make_readable(value)


def _make_readable(cls: type[Any]) -> None:
    fields = {f.name for f in attrs.fields(cls)}
    methods = (_record_getitem, _record_contains, _record_get, _record_keys)
    for name, method in zip(_MAPPING_METHODS, methods, strict=True):
        if name not in fields:
            setattr(cls, name, method)


def _from_dict(model: type[T], data: Any, request: Call, response: httpx.Response) -> T:
    readable_as_mapping(model)
    try:
        return model.from_dict(data)  # type: ignore[attr-defined, no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResponseFormatError(
            f"response does not match {model.__name__}: {exc!r}",
            method=request.method,
            url=str(response.request.url),
        ) from exc


def read(parser: Callable[[httpx.Response], T], request: Call, response: httpx.Response) -> T:
    """A success body through a generated endpoint module's ``parse_success``: the declared type,
    or a :class:`ResponseFormatError` naming the method, the URL and what was wrong."""
    try:
        return parser(response)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResponseFormatError(
            f"expected JSON, got {response.text[:200]!r}",
            method=request.method,
            url=str(response.request.url),
        ) from exc
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise ResponseFormatError(
            f"the reply does not have the declared shape ({what})",
            method=request.method,
            url=str(response.request.url),
        ) from exc


class _Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def read_dict(
    parser: Callable[[httpx.Response], _Record], request: Call, response: httpx.Response
) -> dict[str, Any]:
    """A success body checked by a generated ``parse_success`` (:func:`read`), handed back in
    the service's JSON form: the declared keys and any others, as plain values. For answers
    that are dicts to users (typed by :mod:`dafclient.records`)."""
    return read(parser, request, response).to_dict()


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
    building one attrs object per item this way. Made by :func:`raw_body`.
    """

    def __init__(self, data: Any) -> None:
        self._data = data

    def to_dict(self) -> Any:
        return self._data


def raw_body(model: type[T], data: Any) -> T:
    """``data``, already the JSON form of a ``model`` body, standing in for a ``model`` object.

    The builder only calls ``to_dict()`` on its body, so this is typed as ``model``: mypy still
    checks that the builder receives the body type it declares.
    """
    return cast(T, RawBody(data))
