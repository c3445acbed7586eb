"""The schema service (EMAnnotationSchemas 5.26.3): annotation types as JSON Schema; no auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from dafserver.errors import ServiceError
from dafserver.responses import flask_json_bytes
from dafserver.services.schema_catalog import SchemaCatalog


def _json(content: Any) -> Response:
    return Response(flask_json_bytes(content, sort_keys=False), media_type="application/json")


def _catalog(request: Request) -> SchemaCatalog:
    catalog = request.app.state.schemas
    assert isinstance(catalog, SchemaCatalog)
    return catalog


def _restx_not_found(request: Request) -> ServiceError:
    return ServiceError(
        404,
        "The requested URL was not found on the server. If you entered the URL manually please "
        f"check your spelling and try again. You have requested this URI [{request.url.path}]",
    )


def build_router() -> APIRouter:
    router = APIRouter()
    v2 = "/schema/api/v2"

    @router.get("/schema/versions")
    def get_api_versions() -> Response:
        return _json([2])

    @router.get("/schema/views/version")
    def get_version(request: Request) -> Response:
        return _json(_catalog(request).version)

    @router.get(f"{v2}/type")
    def get_types(request: Request) -> Response:
        return _json(_catalog(request).names())

    @router.get(f"{v2}/type/{{annotation_type}}")
    def get_type_schema(request: Request, annotation_type: str) -> Response:
        schema = _catalog(request).get(annotation_type)
        if schema is None:
            raise _restx_not_found(request)
        return _json(schema)

    @router.post(f"{v2}/types")
    def get_type_schemas(request: Request, schema_names: str | None = None) -> Response:
        if schema_names is None:
            raise ServiceError(400, "schema_names is required")
        catalog, result = _catalog(request), {}
        for name in schema_names.split(","):
            schema = catalog.get(name)
            if schema is None:
                raise _restx_not_found(request)
            result[name] = schema
        return _json(result)

    @router.get(f"{v2}/types_all")
    def get_all_type_schemas(request: Request) -> Response:
        catalog = _catalog(request)
        return _json({name: catalog.get(name) for name in catalog.names()})

    # Legacy routes (emannotationschemas before mid-2020), used by the original client.
    @router.get("/schema/version")
    def get_legacy_version(request: Request) -> Response:
        return _json(_catalog(request).version)

    @router.get("/schema/type")
    def get_legacy_types(request: Request) -> Response:
        return _json(_catalog(request).names())

    @router.get("/schema/type/{schema_type}")
    def get_legacy_type_schema(request: Request, schema_type: str) -> Response:
        schema = _catalog(request).get(schema_type)
        if schema is None:
            raise HTTPException(404)
        return _json(schema)

    return router
