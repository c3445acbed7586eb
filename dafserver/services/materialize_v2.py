"""The MaterializationEngine's v2 client routes CAVEclient still uses, and the admin route that
makes a new version (``specs/materialize/v2.yaml``).

Deliberate differences from production: errors carry their intended status (see
:mod:`dafserver.services.materialize_common`); ``create_frozen`` freezes before answering (production
starts a background workflow), so the new version is ``AVAILABLE`` when the response arrives. The
v2 query routes, broken in production, are not served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dafserver.auth.guard import require_admin
from dafserver.auth.store import UserContext
from dafserver.materialize.engine import MaterializeEngine
from dafserver.services.materialize_common import (
    ArgumentError,
    MaterializeRoute,
    View,
    datastack_of,
    engine_of,
    fail,
    flag,
    json_response,
    positive_int,
)

PREFIX = "/materialize/api/v2/datastack/{datastack_name}"
VERSION = PREFIX + "/version/{version:int}"
MAX_DAYS_TO_EXPIRE = 2_000_000
"""Later expiries pass the year 9999 (production: a Python overflow, 500)."""

Engine = Annotated[MaterializeEngine, Depends(engine_of)]
Admin = Annotated[UserContext, Depends(require_admin())]


def _version(request: Request) -> int:
    return int(request.path_params["version"])


VersionNumber = Annotated[int, Depends(_version)]


def get_versions(datastack_name: str, engine: Engine, _user: View) -> Response:
    ds = datastack_of(engine, datastack_name)
    return json_response([v.version for v in engine.versions(ds, include_invalid=False)])


def get_version_metadata(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    if found is None:
        return json_response("No version found", 404)
    return json_response(found.to_json())


def get_versions_metadata(datastack_name: str, engine: Engine, _user: View) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.versions(ds, include_invalid=False)
    if not found:
        return json_response("No valid versions found", 404)
    return json_response([v.to_json() for v in found])


def get_tables(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    if found is None:
        fail(404, f"version {version} does not exist for {datastack_name} ")
    return json_response([t.table_name for t in engine.catalog.tables(found) if t.valid])


def get_table_metadata(
    datastack_name: str, version: VersionNumber, table_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    if found is None:
        fail(404, f"version {version} not found in {datastack_name}")
    entry = engine.catalog.table(found, table_name)
    if entry is None:
        return json_response(
            f"No table named '{table_name}' found for version '{version}' in datastack "
            f"'{datastack_name}'",
            404,
        )
    metadata = engine.table_metadata(ds, found, entry)
    metadata["annotation_table"] = table_name
    if "pcg_table_name" in metadata:
        metadata["table_name"] = f"{table_name}__{ds.pcg_table}"
    response = json_response(metadata)
    notice = metadata.get("notice_text")
    if notice:
        response.headers["Warning"] = f"Table Owner Notice on {table_name}: {notice}"
    return response


def get_table_count(
    datastack_name: str, version: VersionNumber, table_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    if found is None:
        fail(404, f"version {version} not found in {datastack_name}")
    entry = engine.catalog.table(found, table_name)
    return json_response(None if entry is None else entry.row_count)


def create_frozen_version(
    request: Request, datastack_name: str, engine: Engine, _admin: Admin
) -> Response:
    days = positive_int(request, "days_to_expire", required=True)
    if days is not None and days > MAX_DAYS_TO_EXPIRE:
        raise ArgumentError(
            "days_to_expire", f"days_to_expire must be at most {MAX_DAYS_TO_EXPIRE}"
        )
    if "merge_tables" not in request.query_params:
        raise ArgumentError("merge_tables", "Missing required parameter in the query string")
    merged = flag(request, "merge_tables", True)
    ds = datastack_of(engine, datastack_name)
    now = datetime.now(UTC).replace(tzinfo=None)
    engine.new_version(ds, now, days_to_expire=days, merged=merged)
    return json_response(200)


def build_router() -> APIRouter:
    """The v2 routes of the MaterializationEngine."""
    router = APIRouter(route_class=MaterializeRoute)
    add = router.add_api_route
    add(f"{PREFIX}/versions", get_versions, methods=["GET"])
    add(VERSION, get_version_metadata, methods=["GET"])
    add(f"{PREFIX}/metadata", get_versions_metadata, methods=["GET"])
    add(f"{VERSION}/tables", get_tables, methods=["GET"])
    table = f"{VERSION}/table/{{table_name}}"
    add(f"{table}/metadata", get_table_metadata, methods=["GET"])
    add(f"{table}/count", get_table_count, methods=["GET"])
    add(
        "/materialize/api/v2/materialize/run/create_frozen/datastack/{datastack_name}",
        create_frozen_version,
        methods=["POST"],
    )
    return router
