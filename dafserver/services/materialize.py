"""The MaterializationEngine (5.26.4): app-level routes and the v3 client API.

Routes follow ``specs/materialize/v3.yaml``; the data side is :mod:`dafserver.materialize`. Where
production answers a client error with a 500, dafserver answers the intended status with the same
body (see :mod:`dafserver.services.materialize_common`). Other deliberate differences:

- an expired version's queries answer 410 ``This materialization version is not available``
  (production: a database error, 500);
- rows are ordered by ``id``; ``random_sample`` is exact; regexes are RE2 (see
  :mod:`dafserver.materialize.query`);
- the live query computes the rows alive at the timestamp directly (``limit`` applies once; joined
  tables are taken at the timestamp too), see :mod:`dafserver.materialize.live`;
- an unknown datastack that the auth service maps is a 404 ``datastack … not found``;
- views of the live database (version 0), virtual datastacks, segment properties and the
  precomputed annotation routes are not served;
- version timestamps always carry microseconds (production drops a zero fraction).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dafserver.materialize.bodies import (
    JOIN_FIELDS,
    LIVE_FIELDS,
    SIMPLE_FIELDS,
    QueryBody,
    parse_body,
)
from dafserver.materialize.catalog import View as ViewRecord
from dafserver.materialize.encode import ARROW_FORMAT_WARNING, CSV_WARNING, query_response
from dafserver.materialize.engine import API_VERSIONS, SERVER_VERSION, MaterializeEngine
from dafserver.materialize.query import (
    QueryPlan,
    QueryResult,
    joins_from_pairs,
    joins_from_quads,
)
from dafserver.services.materialize_common import (
    MaterializeRoute,
    RawBody,
    View,
    check_read,
    datastack_of,
    engine_of,
    fail,
    flag,
    json_body,
    json_response,
    positive_int,
    validated_version,
)

PREFIX = "/materialize/api/v3/datastack/{datastack_name}"
VERSION = PREFIX + "/version/{version:sint}"


def _version(request: Request) -> int:
    return int(request.path_params["version"])


VersionNumber = Annotated[int, Depends(_version)]
Engine = Annotated[MaterializeEngine, Depends(engine_of)]


# -- app level ------------------------------------------------------------------------------------


def get_api_versions() -> Response:
    return json_response(API_VERSIONS)


def get_server_version() -> Response:
    return json_response(SERVER_VERSION)


# -- versions -------------------------------------------------------------------------------------


def get_versions(request: Request, datastack_name: str, engine: Engine, _user: View) -> Response:
    ds = datastack_of(engine, datastack_name)
    expired = flag(request, "expired", False)
    return json_response([v.version for v in engine.versions(ds, include_invalid=expired)])


def get_version_metadata(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    if found is None:
        return json_response("No version found", 404)
    return json_response(found.to_json())


def get_versions_metadata(
    request: Request, datastack_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    expired = flag(request, "expired", False)
    found = engine.versions(ds, include_invalid=expired)
    if not found:
        return json_response("No valid versions found", 404)
    return json_response([v.to_json() for v in found])


# -- tables ---------------------------------------------------------------------------------------


def get_tables(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = engine.version(ds, version)
    names = [] if found is None else [t.table_name for t in engine.catalog.tables(found) if t.valid]
    return json_response(names) if names else json_response(None, 404)


def get_tables_metadata(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    tables = engine.catalog.tables(found)
    if not tables:
        return json_response([], 404)
    return json_response([engine.table_metadata(ds, found, t) for t in tables])


def get_table_metadata(
    datastack_name: str, version: VersionNumber, table_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    entry = engine.catalog.table(found, table_name)
    if entry is None:
        return json_response(
            f"No table named '{table_name}' found for version '{version}' in datastack "
            f"'{datastack_name}'",
            404,
        )
    return json_response(engine.table_metadata(ds, found, entry))


def get_table_count(
    datastack_name: str, version: VersionNumber, table_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    entry = engine.catalog.table(found, table_name)
    return json_response(None if entry is None else entry.row_count)


# -- queries --------------------------------------------------------------------------------------


class _Args:
    """The query routes' arguments (``query_parser``)."""

    def __init__(self, request: Request) -> None:
        self.return_pyarrow = flag(request, "return_pyarrow", True)
        self.arrow_format = flag(request, "arrow_format", False)
        flag(request, "split_positions", False)
        self.count = flag(request, "count", False)
        self.random_sample = positive_int(request, "random_sample")
        self.ipc_compress = flag(request, "ipc_compress", True)
        self.direct_sql_pandas = flag(request, "direct_sql_pandas", False)
        self.allow_missing_lookups = flag(request, "allow_missing_lookups", False)
        self.allow_invalid_root_ids = flag(request, "allow_invalid_root_ids", False)
        self.accept_encoding = request.headers.get("accept-encoding", "")

    def warnings(self) -> list[str]:
        out = []
        if self.return_pyarrow and not self.arrow_format:
            out.append(ARROW_FORMAT_WARNING)
        if not self.direct_sql_pandas:
            out.append(CSV_WARNING)
        return out

    def respond(self, result: QueryResult) -> Response:
        return query_response(
            result,
            return_pyarrow=self.return_pyarrow,
            accept_encoding=self.accept_encoding,
            ipc_compress=self.ipc_compress,
            extra_warnings=self.warnings(),
        )


def _notice(engine: MaterializeEngine, ds: Any, table: str) -> list[str]:
    info = engine.annotation_table(ds, table)
    if info is not None and info.notice_text:
        return [f"Table Owner Notice on {table}: {info.notice_text}"]
    return []


def query_table(
    request: Request,
    datastack_name: str,
    version: VersionNumber,
    table_name: str,
    raw: RawBody,
    engine: Engine,
    user: View,
) -> Response:
    args = _Args(request)
    body = parse_body(json_body(raw), SIMPLE_FIELDS)
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    source = engine.frozen_source(ds, found, table_name)
    check_read(request, user, engine.annotation_table(ds, table_name))
    plan = QueryPlan(
        [source],
        [],
        body,
        count=args.count,
        random_sample=args.random_sample,
        warnings=_notice(engine, ds, table_name),
    )
    return args.respond(engine.run(plan))


def join_query(
    request: Request,
    datastack_name: str,
    version: VersionNumber,
    raw: RawBody,
    engine: Engine,
    user: View,
) -> Response:
    args = _Args(request)
    body = parse_body(json_body(raw), JOIN_FIELDS, required=("tables",))
    assert body.tables is not None
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    names = [body.tables[0][0], body.tables[1][0]]
    sources = [engine.frozen_source(ds, found, name) for name in names]
    warnings: list[str] = []
    for name in dict.fromkeys(names):
        check_read(request, user, engine.annotation_table(ds, name))
        warnings.extend(_notice(engine, ds, name))
    if body.suffixes is not None:
        warnings.append("Suffixes is deprecated for complex queries, use suffix_map instead")
    if body.select_columns is not None:
        warnings.append(
            "Select_columns is deprecated for join queries, use select_column_map instead"
        )
    if not args.direct_sql_pandas:
        warnings.append("Using non-pandas query execution is deprecated")
    plan = QueryPlan(
        sources,
        joins_from_pairs(body.tables),
        body,
        random_sample=args.random_sample,
        default_resolution=sources[-1].resolution,
        warnings=warnings,
    )
    return args.respond(engine.run(plan))


def live_query(
    request: Request, datastack_name: str, raw: RawBody, engine: Engine, user: View
) -> Response:
    args = _Args(request)
    body = parse_body(json_body(raw), LIVE_FIELDS, required=("table", "timestamp"))
    assert body.table is not None
    ds = datastack_of(engine, datastack_name)
    names = [body.table, *[n for j in body.join_tables or [] for n in (j[0], j[2])]]
    for name in dict.fromkeys(names):
        check_read(request, user, engine.annotation_table(ds, name))
    warnings = engine.check_live_roots(ds, body, args.allow_invalid_root_ids)
    with engine.connection() as connection:
        sources, _version_used = engine.live_sources(ds, body, connection)
        _check_live_selection(body, sources[0].name)
        plan = QueryPlan(
            sources,
            joins_from_quads(body.join_tables or []),
            body,
            count=args.count,
            random_sample=args.random_sample,
            default_resolution=sources[0].resolution,
            warnings=warnings,
        )
        result = engine.run(plan, connection)
    if result.limit is not None and result.table.num_rows >= result.limit:
        result.warnings.append(
            f"result has {result.table.num_rows} entries, which is equal or more         than "
            f"limit of {result.limit} there may be more results which are not shown"
        )
    return args.respond(result)


def _check_live_selection(body: QueryBody, main: str) -> None:
    """Production indexes the combined rows by the main table's ``id``: selections must keep it."""
    selected = body.select_column_map
    if selected is not None and main in selected and "id" not in selected[main]:
        fail(400, f"select_columns for {main} must include 'id'")


# -- unique string values -------------------------------------------------------------------------


def get_unique_string_values(
    datastack_name: str, table_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    info = engine.annotation_table(ds, table_name)
    if info is None:
        fail(404, f"table {table_name} not found in {datastack_name}")
    return json_response(engine.unique_string_values(ds, info))


# -- views ----------------------------------------------------------------------------------------


def _view(engine: MaterializeEngine, datastack_name: str, view_name: str) -> ViewRecord:
    found = engine.catalog.view(datastack_name, view_name)
    if found is None:
        fail(404, f"No row was found when one was required (view {view_name})")
    return found


def get_views(datastack_name: str, version: VersionNumber, engine: Engine, _user: View) -> Response:
    ds = datastack_of(engine, datastack_name)
    validated_version(engine, ds, version)
    views = engine.catalog.views(ds.name)
    return json_response({v.view_name: {"id": v.id, "description": v.description} for v in views})


def get_view_metadata(
    datastack_name: str, version: VersionNumber, view_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    validated_version(engine, ds, version)
    return json_response(_view(engine, ds.name, view_name).metadata_json())


def get_view_schema(
    datastack_name: str, version: VersionNumber, view_name: str, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    return json_response(engine.view_schema(ds, found, _view(engine, ds.name, view_name)))


def get_view_schemas(
    datastack_name: str, version: VersionNumber, engine: Engine, _user: View
) -> Response:
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    views = engine.catalog.views(ds.name)
    if not views:
        return json_response({}, 404)
    return json_response({v.view_name: engine.view_schema(ds, found, v) for v in views})


def query_view(
    request: Request,
    datastack_name: str,
    version: VersionNumber,
    view_name: str,
    raw: RawBody,
    engine: Engine,
    _user: View,
) -> Response:
    args = _Args(request)
    body = parse_body(json_body(raw), SIMPLE_FIELDS)
    ds = datastack_of(engine, datastack_name)
    found = validated_version(engine, ds, version)
    view = _view(engine, ds.name, view_name)
    warnings = (
        [f"Table Owner Notice on {view_name}: {view.notice_text}"] if view.notice_text else []
    )
    with engine.connection() as connection:
        source = engine.view_source(ds, found, view, connection)
        plan = QueryPlan(
            [source],
            [],
            body,
            count=args.count,
            random_sample=args.random_sample,
            default_resolution=view.voxel_resolution,
            warnings=warnings,
        )
        result = engine.run(plan, connection)
    return args.respond(result)


def build_router() -> APIRouter:
    """The app-level and v3 routes of the MaterializationEngine."""
    router = APIRouter(route_class=MaterializeRoute)
    add = router.add_api_route
    add("/materialize/api/versions", get_api_versions, methods=["GET"])
    add("/materialize/version", get_server_version, methods=["GET"])
    add(f"{PREFIX}/versions", get_versions, methods=["GET"])
    add(VERSION, get_version_metadata, methods=["GET"])
    add(f"{PREFIX}/metadata", get_versions_metadata, methods=["GET"])
    add(f"{PREFIX}/metadata/", get_versions_metadata, methods=["GET"], include_in_schema=False)
    add(f"{VERSION}/tables", get_tables, methods=["GET"])
    add(f"{VERSION}/tables/metadata", get_tables_metadata, methods=["GET"])
    table = f"{VERSION}/table/{{table_name}}"
    add(f"{table}/metadata", get_table_metadata, methods=["GET"])
    add(f"{table}/count", get_table_count, methods=["GET"])
    add(f"{table}/query", query_table, methods=["POST"])
    add(f"{VERSION}/query", join_query, methods=["POST"])
    add(f"{PREFIX}/query", live_query, methods=["POST"])
    add(
        f"{PREFIX}/table/{{table_name}}/unique_string_values",
        get_unique_string_values,
        methods=["GET"],
    )
    add(f"{VERSION}/views", get_views, methods=["GET"])
    add(f"{VERSION}/views/schemas", get_view_schemas, methods=["GET"])
    view = f"{VERSION}/views/{{view_name}}"
    add(f"{view}/metadata", get_view_metadata, methods=["GET"])
    add(f"{view}/schema", get_view_schema, methods=["GET"])
    add(f"{view}/query", query_view, methods=["POST"])
    return router
