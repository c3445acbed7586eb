"""The schema service (EMAnnotationSchemas): annotation types and their JSON Schemas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dafclient import _generated as gen
from dafclient._context import ApiVersions
from dafclient._plan import Plan, async_op, read_json, sync_op
from dafclient._service import AsyncBinding, ServiceClient, SyncBinding
from dafclient._wire.schema_v1.api.schema import get_type_schema as get_type_schema_v1
from dafclient._wire.schema_v1.api.schema import get_types as get_types_v1
from dafclient._wire.schema_v2.api.schema import (
    get_all_type_schemas,
    get_type_schema,
    get_type_schemas,
    get_types,
)
from dafclient.errors import InputError, ResponseFormatError

SCHEMA_API = ApiVersions("schema", known=(1, 2), versions_path="/schema/versions")

JsonSchema = dict[str, Any]
"""A JSON Schema document (draft-07) as the schema service serves it."""


def _expect(
    kind: type, data: Any, request: Any, response: Any, what: str, items: type | None = None
) -> Any:
    """``data`` when it is a ``kind`` (whose items, or values for a dict, are ``items``), else a
    ResponseFormatError saying what was expected."""
    inside = data.values() if isinstance(data, dict) else data
    if not isinstance(data, kind) or (
        items is not None and not all(isinstance(item, items) for item in inside)
    ):
        raise ResponseFormatError(
            f"expected {what}", method=request.method, url=str(response.request.url)
        )
    return data


class SchemaClientBase(ServiceClient):
    """Plans of the schema client; see :class:`SchemaClient`."""

    API = SCHEMA_API

    def _get_schemas(self) -> Plan[list[str]]:
        """Names of every annotation type, in the service's order."""
        server = yield from self._server()
        if (yield from self._api_version()) == 2:
            request = gen.call(server, get_types.build_request())
        else:
            request = gen.call(server, get_types_v1.build_request())
        response = yield request
        return list(
            _expect(list, read_json(request, response), request, response, "a list of names", str)
        )

    def _schema_definition(self, schema_type: str) -> Plan[JsonSchema]:
        """The JSON Schema of one annotation type (``definitions`` plus a top-level ``$ref``)."""
        server = yield from self._server()
        if (yield from self._api_version()) == 2:
            request = gen.call(server, get_type_schema.build_request(annotation_type=schema_type))
        else:
            request = gen.call(server, get_type_schema_v1.build_request(schema_type=schema_type))
        response = yield request
        return dict(_expect(dict, read_json(request, response), request, response, "a JSON Schema"))

    def _schema_definition_multi(self, schema_types: Iterable[str]) -> Plan[dict[str, JsonSchema]]:
        """JSON Schemas of several types in one request (by name)."""
        names = [schema_types] if isinstance(schema_types, str) else list(schema_types)
        if not names:
            raise InputError("schema_types: give at least one annotation type name")
        if (yield from self._api_version()) == 1:
            result = {}
            for name in names:
                result[name] = yield from self._schema_definition(name)
            return result
        request = gen.call(
            (yield from self._server()),
            get_type_schemas.build_request(schema_names=",".join(names)),
            idempotent=True,
        )
        response = yield request
        return dict(
            _expect(dict, read_json(request, response), request, response, "a map of schemas", dict)
        )

    def _schema_definition_all(self) -> Plan[dict[str, JsonSchema]]:
        """JSON Schemas of every annotation type, by name."""
        if (yield from self._api_version()) == 1:
            names = yield from self._get_schemas()
            return (yield from self._schema_definition_multi(names))
        request = gen.call((yield from self._server()), get_all_type_schemas.build_request())
        response = yield request
        return dict(
            _expect(dict, read_json(request, response), request, response, "a map of schemas", dict)
        )


class SchemaClient(SyncBinding, SchemaClientBase):
    """Annotation types of EMAnnotationSchemas and their JSON Schemas (global server, no token)."""

    get_schemas = sync_op(SchemaClientBase._get_schemas)
    schema = sync_op(SchemaClientBase._get_schemas)
    """The original client's name for :meth:`get_schemas`."""
    schema_definition = sync_op(SchemaClientBase._schema_definition)
    schema_definition_multi = sync_op(SchemaClientBase._schema_definition_multi)
    schema_definition_all = sync_op(SchemaClientBase._schema_definition_all)


class AsyncSchemaClient(AsyncBinding, SchemaClientBase):
    """:class:`SchemaClient` with coroutine methods."""

    get_schemas = async_op(SchemaClientBase._get_schemas)
    schema = async_op(SchemaClientBase._get_schemas)
    schema_definition = async_op(SchemaClientBase._schema_definition)
    schema_definition_multi = async_op(SchemaClientBase._schema_definition_multi)
    schema_definition_all = async_op(SchemaClientBase._schema_definition_all)
