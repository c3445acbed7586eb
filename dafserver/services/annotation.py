"""The AnnotationEngine (AnnotationEngine 4.35.0 over DynamicAnnotationDB 5.8.1): v2 table routes.

Routes follow ``specs/annotation/v2.yaml``. Production answers nearly every client error with a 500
(its error handler catches every ``abort()``); dafserver answers the status the code intends with the
same body. Other deliberate differences from production:

- Request bodies are parsed as JSON whatever their ``Content-Type`` (Flask's ``get_json`` ignores
  bodies not labelled JSON, which then fail validation).
- An unknown table is a 404 with the body ``No table named '{table}' exists.`` (production crashes
  on the missing metadata row with a 500).
- A 422 message names the failing annotation by its index in the request
  (``annotation 3: {'pre_pt': …}``); production validates the items one at a time and reports the
  first failure's messages alone.
- ``GROUP`` read permission always admits the owner (production asks whether the owner shares a group
  with themselves); no group is excluded from the comparison (``AUTH_SHARED_EXCLUDED_GROUPS``).
- Table metadata ``id`` values are unique across aligned volumes (production numbers them per
  aligned-volume database).
- ``PUT …/annotations``: an item without ``id`` fails with ``Annotation requires an 'id' to update
  targeted row`` and an unknown id with ``No row was found when one was required (annotation id
  N)`` (production: ``'str' object has no attribute 'items'`` and SQLAlchemy's message).
- ``DELETE …/annotations`` answers the ids found in ascending order (production: database order).
- ``track_target_id_updates`` rewrites ``target_id`` when a referenced row is superseded. Production's
  trigger fires on every update of a referenced row, so a soft delete there sets ``target_id`` to
  null, which dafserver does not copy.
- A reference to a table that does not exist in the same aligned volume, an id taken twice and a
  ``target_id`` absent from the reference table are checked before writing; the messages follow the
  Postgres errors production reports.
- ``GET …/annotations`` refuses more than 10,000 ``annotation_ids`` with a 400 before parsing them
  (production is bounded only by its proxy's URL length).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from dafserver.auth.guard import require_permission
from dafserver.auth.store import AuthStore, UserContext
from dafserver.errors import ServiceError, restx_error
from dafserver.responses import flask_json_bytes
from dafserver.services.annotation_store import (
    INSERT_LIMIT,
    MAX_LENGTHS,
    PERMISSIONS,
    AlreadySuperseded,
    AnnotationRow,
    AnnotationStore,
    AnnotationStoreError,
    NewAnnotation,
    TableExists,
    TableInfo,
)
from dafserver.services.annotation_validation import (
    PLANS,
    AnnotationPlan,
    Field,
    Invalid,
    ObjectPlan,
    ValidationFailed,
    as_bool,
    as_float,
    as_int,
    as_mapping,
    as_str,
    list_of,
)
from dafserver.services.info_store import InfoStore
from dafserver.services.schema_catalog import SchemaCatalog

PREFIX = "/annotation/api/v2/aligned_volume/{aligned_volume_name}"
MAX_ANNOTATION_ID = 2**63 - 1
_TEXT = "text/html; charset=utf-8"
_TABLE_NAME = re.compile(r"[a-z_]+[a-z0-9_]*")
_BAD_JSON = "The browser (or proxy) sent a request that this server could not understand."
_ARGS_FAILED = "Input payload validation failed"

View = Annotated[
    UserContext, Depends(require_permission("view", "aligned_volume", "aligned_volume_name"))
]
Edit = Annotated[
    UserContext, Depends(require_permission("edit", "aligned_volume", "aligned_volume_name"))
]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]

# -- request body schemas (annotationengine/schemas.py; every level rejects unknown keys) ---------

_TABLE_OPTIONS = ObjectPlan(
    (Field("reference_table", convert=as_str), Field("track_target_id_updates", convert=as_bool))
)
CREATE_TABLE = ObjectPlan(
    (
        Field("table_name", required=True, convert=as_str),
        Field("schema_type", required=True, convert=as_str),
        Field(
            "metadata",
            required=True,
            nested=ObjectPlan(
                (
                    Field("user_id", convert=as_str),
                    Field("description", required=True, convert=as_str),
                    Field("table_metadata", nested=_TABLE_OPTIONS),
                    Field("flat_segmentation_source", convert=as_str),
                    Field("voxel_resolution_x", required=True, convert=as_float),
                    Field("voxel_resolution_y", required=True, convert=as_float),
                    Field("voxel_resolution_z", required=True, convert=as_float),
                    Field("read_permission", convert=as_str),
                    Field("write_permission", convert=as_str),
                    Field("notice_text", convert=as_str),
                )
            ),
        ),
    )
)
UPDATE_TABLE = ObjectPlan(
    (
        Field("table_name", required=True, convert=as_str),
        Field(
            "metadata",
            required=True,
            nested=ObjectPlan(
                tuple(
                    Field(name, convert=as_str)
                    for name in (
                        "user_id",
                        "description",
                        "flat_segmentation_source",
                        "read_permission",
                        "write_permission",
                        "notice_text",
                    )
                )
            ),
        ),
    )
)
PUT_ANNOTATIONS = ObjectPlan((Field("annotations", required=True, convert=list_of(as_mapping)),))
DELETE_ANNOTATIONS = ObjectPlan((Field("annotation_ids", required=True, convert=list_of(as_int)),))

# -- helpers ---------------------------------------------------------------------------------------


def _fail(status: int, message: str) -> NoReturn:
    raise ServiceError(status, message)


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        flask_json_bytes(content, sort_keys=False),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _store(request: Request) -> AnnotationStore:
    store = request.app.state.annotation
    assert isinstance(store, AnnotationStore)
    return store


def _aligned_volume_exists(request: Request, name: str) -> bool:
    info = request.app.state.info
    assert isinstance(info, InfoStore)
    return name in info.aligned_volume_names()


def _schema_document(request: Request, schema_type: str) -> dict[str, Any] | None:
    catalog = request.app.state.schemas
    assert isinstance(catalog, SchemaCatalog)
    return catalog.get(schema_type)


def _user_groups(request: Request, user_id: str) -> set[str]:
    """Group names of the user ``user_id`` (a table owner); empty for unknown users."""
    auth = request.app.state.auth
    assert isinstance(auth, AuthStore)
    if not user_id.isascii() or not user_id.isdigit():
        return set()
    record = auth.user_cache(int(user_id))
    return set() if record is None else {str(group) for group in record["groups"]}


def _check_aligned_volume(request: Request, name: str) -> None:
    if not _aligned_volume_exists(request, name):
        _fail(400, f"aligned volume: {name} not valid")


def _load_body(raw: bytes, plan: ObjectPlan) -> dict[str, Any]:
    """The body loaded with ``plan``; flask-accepts' ``{"schema_errors": …}`` 400 otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        _fail(400, _BAD_JSON)
    try:
        return plan.load(data)
    except ValidationFailed as error:
        raise _SchemaErrors(error.messages) from None


class _SchemaErrors(Exception):
    def __init__(self, messages: dict[Any, Any]) -> None:
        super().__init__(messages)
        self.messages = messages


def _table(request: Request, aligned_volume: str, table_name: str) -> TableInfo:
    table = _store(request).table(aligned_volume, table_name)
    if table is None:
        _fail(404, f"No table named '{table_name}' exists.")
    return table


def _is_owner(user: UserContext, table: TableInfo) -> bool:
    return table.user_id == str(user.id)


def _share_group(request: Request, user: UserContext, table: TableInfo) -> bool:
    return bool(set(user.groups) & _user_groups(request, table.user_id))


def _check_owner(user: UserContext, table: TableInfo) -> None:
    if not _is_owner(user, table):
        _fail(401, "You cannot do this because you are not the owner of this table")


def _check_read(request: Request, user: UserContext, table: TableInfo) -> None:
    if _is_owner(user, table):
        return
    if table.read_permission == "GROUP":
        if not _share_group(request, user, table):
            _fail(
                401,
                "Unauthorized: You cannot read this table because you do not share a common "
                "group with the creator of this table.",
            )
    elif table.read_permission == "PRIVATE":
        _fail(401, "Unauthorized: The table can only be read by its owner")


def _check_write(request: Request, user: UserContext, table: TableInfo) -> None:
    if _is_owner(user, table) or table.write_permission == "PUBLIC":
        return
    if table.write_permission == "GROUP":
        if not _share_group(request, user, table):
            _fail(
                401,
                "Unauthorized: You cannot write because you do not share a common group with "
                "the creator of this table.",
            )
    else:
        _fail(401, "Unauthorized: The table can only be written to by owner")


def _check_metadata_values(metadata: dict[str, Any]) -> None:
    """The database's checks: permission enum values and column lengths."""
    for key in ("read_permission", "write_permission"):
        value = metadata.get(key)
        if value is not None and value not in PERMISSIONS:
            _fail(400, f'invalid input value for enum read_permission: "{value}"')
    for key, limit in MAX_LENGTHS.items():
        value = metadata.get(key)
        if isinstance(value, str) and len(value) > limit:
            _fail(400, f"value too long for type character varying({limit})")


def _notice_headers(table: TableInfo) -> dict[str, str] | None:
    """The ``Warning`` header of a table with a notice.

    Line breaks become spaces, and text outside Latin-1 is sent as its UTF-8 bytes (production
    fails with a 500 on either).
    """
    if table.notice_text is None:
        return None
    value = f"Table Owner Notice: {table.notice_text}"
    value = value.replace("\r", " ").replace("\n", " ")
    return {"Warning": value.encode("utf-8").decode("latin-1")}


def _plan(request: Request, table: TableInfo, status: int) -> AnnotationPlan:
    document = _schema_document(request, table.schema_type)
    if document is None:
        _fail(status, f"Schema type: {table.schema_type} is not a known annotation type")
    return PLANS.get(table.schema_type, document)


def _new_annotation(
    plan: AnnotationPlan, item: dict[str, Any], index: int, *, explicit_id: bool
) -> NewAnnotation:
    """Validate and flatten one posted annotation; 422 with the messages when it is invalid."""
    messages: dict[str, Any] = {}
    try:
        flat = plan.load(item)
    except ValidationFailed as error:
        messages = error.messages
        flat = {}
    annotation_id: int | None = None
    raw_id = item.get("id")
    if explicit_id and raw_id:
        try:
            annotation_id = as_int(raw_id)
            if not 1 <= annotation_id <= MAX_ANNOTATION_ID:
                raise Invalid(
                    [
                        "Must be greater than or equal to 1 and less than or equal to "
                        f"{MAX_ANNOTATION_ID}."
                    ]
                )
        except Invalid as error:
            messages = {**messages, "id": error.messages}
    if messages:
        _fail(422, f"annotation {index}: {messages}")
    target_id = flat.pop("target_id", None) if plan.is_reference else None
    return NewAnnotation(explicit_id=annotation_id, target_id=target_id, data=flat)


def _flat_annotation(plan: AnnotationPlan | None, row: AnnotationRow) -> dict[str, Any]:
    """One row as production's GET renders it (``str(datetime)``, ``deleted`` "None")."""
    out: dict[str, Any] = {
        "id": row.id,
        "valid": row.valid,
        "created": str(row.created),
        "deleted": str(row.deleted),
        "superceded_id": row.superceded_id,
    }
    data = row.data
    if plan is None:
        out.update(data)
        if row.target_id is not None:
            out["target_id"] = row.target_id
        return out
    for column in plan.columns:
        out[column] = row.target_id if column == "target_id" else data.get(column)
    return out


MAX_QUERY_IDS = 10_000
"""Most ``annotation_ids`` one GET may name (a longer list is a 400 before any is parsed)."""


def _annotation_ids(request: Request) -> list[int]:
    """``annotation_ids=1,2,3`` parsed like flask-restx ``type=int, action="split"``."""
    values = request.query_params.getlist("annotation_ids")
    if not values:
        _args_error(
            "annotation_ids",
            "list of annotation ids Missing required parameter in the JSON body or the post body "
            "or the query string",
        )
    count = sum(value.count(",") + 1 for value in values)
    if count > MAX_QUERY_IDS:
        _args_error(
            "annotation_ids",
            f"list of annotation ids at most {MAX_QUERY_IDS} ids per request, got {count}",
        )
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            try:
                ids.append(int(part))
            except ValueError as error:
                _args_error("annotation_ids", f"list of annotation ids {error}")
    return ids


class _ArgumentError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.errors = {name: message}


def _args_error(name: str, message: str) -> NoReturn:
    raise _ArgumentError(name, message)


def _filter_valid(request: Request) -> bool:
    """``filter_valid`` parsed by flask-restx ``inputs.boolean`` (default true)."""
    value = request.query_params.get("filter_valid")
    if value is None:
        return True
    help_text = "whether to only return valid items"
    if not value:
        _args_error("filter_valid", f"{help_text} boolean type must be non-null")
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    _args_error("filter_valid", f"{help_text} Invalid literal for boolean(): {lowered}")


# -- handlers ------------------------------------------------------------------------------------


def get_api_versions() -> Response:
    return _json([2])


def get_tables(aligned_volume_name: str, request: Request, _user: View) -> Response:
    _check_aligned_volume(request, aligned_volume_name)
    filter_valid = _filter_valid(request)
    return _json(_store(request).table_names(aligned_volume_name, filter_valid=filter_valid))


def create_table(aligned_volume_name: str, request: Request, user: Edit, body: RawBody) -> Response:
    data = _load_body(body, CREATE_TABLE)
    _check_aligned_volume(request, aligned_volume_name)
    metadata: dict[str, Any] = data["metadata"]
    table_name: str = data["table_name"]
    schema_type: str = data["schema_type"]
    if not table_name:
        _fail(400, "Table name error: Table name cannot be empty.")
    if not _TABLE_NAME.fullmatch(table_name):
        _fail(
            400,
            "Table name error: Invalid table name. Table name must include at least one letter, "
            "and can only contain lowercase letters, numbers, and underscores (_).",
        )
    store = _store(request)
    existing = store.table_names(aligned_volume_name, filter_valid=False)
    if table_name in existing:
        _fail(400, f"Table {table_name} already exists")
    options: dict[str, Any] | None = metadata.get("table_metadata")
    reference_table: str | None = None
    track_updates = False
    unknown_type = f"Schema type: {schema_type} is not a known annotation type"
    for option, value in (options or {}).items():
        if option == "reference_table":
            document = _schema_document(request, schema_type)
            if document is None:
                _fail(400, unknown_type)
            if not PLANS.get(schema_type, document).is_reference:
                _fail(400, "Reference table must be a ReferenceAnnotation schema type")
            if value == table_name:
                _fail(400, f"{value} must target a different table not {table_name}")
            if value not in existing:
                _fail(400, f"No table named '{value}' exists.")
            reference_table = value
        elif option == "track_target_id_updates":
            track_updates = bool(value)
    document = _schema_document(request, schema_type)
    if document is None:
        _fail(400, unknown_type)
    plan = PLANS.get(schema_type, document)
    if plan.is_reference:
        if options is None:
            _fail(
                400,
                "Reference metadata must be supplied as a dict in the form "
                '{"reference_table": "your_target_table"}',
            )
        if reference_table is None:
            _fail(400, f"reference table not specified in metadata {options}: 'reference_table'")
    else:
        track_updates = False
    _check_metadata_values({**metadata, "table_name": table_name})
    description: str = metadata["description"]
    if reference_table is not None and track_updates:
        description += (
            f" [Note: This table '{table_name}' will update the 'target_id' foreign_key when "
            f"updates are made to the '{reference_table}' table] "
        )
    user_id = metadata.get("user_id")
    try:
        store.create_table(
            aligned_volume_name,
            table_name,
            schema_type,
            description=description,
            user_id=str(user.id) if user_id is None else user_id,
            voxel_resolution=(
                metadata["voxel_resolution_x"],
                metadata["voxel_resolution_y"],
                metadata["voxel_resolution_z"],
            ),
            reference_table=reference_table,
            track_target_id_updates=track_updates,
            flat_segmentation_source=metadata.get("flat_segmentation_source"),
            read_permission=metadata.get("read_permission") or "PUBLIC",
            write_permission=metadata.get("write_permission") or "PRIVATE",
            notice_text=metadata.get("notice_text"),
        )
    except TableExists as error:
        _fail(400, str(error))
    return Response(table_name, media_type=_TEXT)


def update_table_metadata(
    aligned_volume_name: str, request: Request, user: Edit, body: RawBody
) -> Response:
    data = _load_body(body, UPDATE_TABLE)
    metadata: dict[str, Any] = data["metadata"]
    if metadata.get("user_id") is None:
        metadata["user_id"] = str(user.id)
    table = _table(request, aligned_volume_name, data["table_name"])
    _check_owner(user, table)
    _check_metadata_values(metadata)
    changes: dict[str, str | None] = {
        key: value for key, value in metadata.items() if key != "notice_text"
    }
    if "notice_text" in metadata:
        changes["notice_text"] = metadata["notice_text"] or None
    updated = _store(request).update_table(table, changes)
    return _json(updated.metadata_json())


def get_table_metadata(
    aligned_volume_name: str, table_name: str, request: Request, _user: View
) -> Response:
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    return _json(table.metadata_json(), 201, _notice_headers(table))


def delete_table(
    aligned_volume_name: str, table_name: str, request: Request, user: Edit
) -> Response:
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_owner(user, table)
    _store(request).mark_table_deleted(table)
    return _json(True)


def get_annotation_count(
    aligned_volume_name: str, table_name: str, request: Request, user: View
) -> Response:
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_read(request, user, table)
    return _json(_store(request).count(table))


def get_annotations(
    aligned_volume_name: str, table_name: str, request: Request, user: View
) -> Response:
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_read(request, user, table)
    ids = _annotation_ids(request)
    document = _schema_document(request, table.schema_type)
    plan = None if document is None else PLANS.get(table.schema_type, document)
    found = _store(request).get(table, ids)
    return _json([_flat_annotation(plan, row) for row in found], 200, _notice_headers(table))


def post_annotations(
    aligned_volume_name: str, table_name: str, request: Request, user: Edit, body: RawBody
) -> Response:
    items: list[dict[str, Any]] = _load_body(body, PUT_ANNOTATIONS)["annotations"]
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_write(request, user, table)
    if len(items) > INSERT_LIMIT:
        _fail(
            413,
            f"{INSERT_LIMIT} -> The insertion limit is {INSERT_LIMIT}, {len(items)} were "
            "attempted to be inserted",
        )
    plan = _plan(request, table, 404)
    new = [_new_annotation(plan, item, index, explicit_id=True) for index, item in enumerate(items)]
    try:
        ids = _store(request).insert(table, new)
    except AnnotationStoreError as error:
        _fail(404, str(error))
    return _json(ids)


def update_annotations(
    aligned_volume_name: str, table_name: str, request: Request, user: Edit, body: RawBody
) -> Response:
    items: list[dict[str, Any]] = _load_body(body, PUT_ANNOTATIONS)["annotations"]
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_write(request, user, table)
    plan = _plan(request, table, 400)
    store = _store(request)
    mapping: dict[str, int] = {}
    for index, item in enumerate(items):
        raw_id = item.get("id")
        if not raw_id:
            _fail(400, "Annotation requires an 'id' to update targeted row")
        new = _new_annotation(plan, item, index, explicit_id=False)
        try:
            old_id = as_int(raw_id)
        except Invalid:
            _fail(400, f"annotation {index}: invalid annotation id {raw_id!r}")
        try:
            mapping[str(old_id)] = store.update(table, old_id, new)
        except AlreadySuperseded as error:
            _fail(409, str(error))
        except AnnotationStoreError as error:
            _fail(400, str(error))
    return _json(mapping)


def delete_annotations(
    aligned_volume_name: str, table_name: str, request: Request, user: Edit, body: RawBody
) -> Response:
    ids: list[int] = _load_body(body, DELETE_ANNOTATIONS)["annotation_ids"]
    _check_aligned_volume(request, aligned_volume_name)
    table = _table(request, aligned_volume_name, table_name)
    _check_write(request, user, table)
    found = _store(request).delete(table, ids)
    if not found:
        return _json(f"annotation_id {ids} not in table {table_name}", 404)
    return _json(found)


# -- router ----------------------------------------------------------------------------------------


class _AnnotationRoute(APIRoute):
    """Renders flask-accepts body errors and flask-restx argument errors the way production does."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except _SchemaErrors as error:
                return _json({"schema_errors": error.messages}, 400)
            except _ArgumentError as error:
                return restx_error(400, _ARGS_FAILED, error.errors)

        return route_handler


def build_router() -> APIRouter:
    """The AnnotationEngine routes; request-body and argument errors get their production bodies."""
    router = APIRouter(route_class=_AnnotationRoute)
    router.add_api_route("/annotation/api/versions", get_api_versions, methods=["GET"])
    table = f"{PREFIX}/table"
    router.add_api_route(table, get_tables, methods=["GET"])
    router.add_api_route(table, create_table, methods=["POST"])
    router.add_api_route(table, update_table_metadata, methods=["PUT"])
    one = f"{table}/{{table_name}}"
    router.add_api_route(one, get_table_metadata, methods=["GET"])
    router.add_api_route(one, delete_table, methods=["DELETE"])
    router.add_api_route(f"{one}/count", get_annotation_count, methods=["GET"])
    annotations = f"{one}/annotations"
    router.add_api_route(annotations, get_annotations, methods=["GET"])
    router.add_api_route(annotations, post_annotations, methods=["POST"])
    router.add_api_route(annotations, update_annotations, methods=["PUT"])
    router.add_api_route(annotations, delete_annotations, methods=["DELETE"])
    return router
