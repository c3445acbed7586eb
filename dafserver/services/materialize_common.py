"""What the MaterializationEngine routes share: the route class rendering ME errors, query-argument
parsing (flask-restx), the signed version path convertor, datastack/version validation and the
table read-permission check.

Production turns every raised error into a 500 (its ``Exception`` handler catches ``abort()`` too);
dafserver answers the status the code intends with the same bodies: ``{"code", "message"}`` (no
traceback), ``{"schema_errors": …}`` for bodies, ``{"errors", "message"}`` for query arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor

from dafserver.auth.guard import require_permission
from dafserver.auth.store import AuthStore, UserContext
from dafserver.errors import restx_error
from dafserver.materialize.bodies import SchemaErrors
from dafserver.materialize.catalog import Version
from dafserver.materialize.engine import Datastack, MaterializeEngine
from dafserver.materialize.query import QueryError
from dafserver.responses import flask_json_bytes
from dafserver.services.annotation_store import TableInfo

_ARGS_FAILED = "Input payload validation failed"
BAD_JSON = "The browser (or proxy) sent a request that this server could not understand."


class SignedIntConvertor(Convertor[int]):
    """Werkzeug's ``<int(signed=True):…>``: ``-1`` and ``0`` route, other text does not."""

    regex = "-?[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("sint", SignedIntConvertor())

View = Annotated[UserContext, Depends(require_permission("view", "datastack", "datastack_name"))]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


class ArgumentError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.errors = {name: message}


def me_error(status: int, message: str) -> Response:
    """The ME error body, carrying the intended status."""
    body = {"code": status, "message": f"{status} {HTTPStatus(status).phrase}: {message}"}
    return json_response(body, status)


def json_response(content: Any, status: int = 200) -> Response:
    """flask-restx JSON: insertion order, compact, trailing newline."""
    return Response(
        flask_json_bytes(content, sort_keys=False),
        status_code=status,
        media_type="application/json",
    )


def fail(status: int, message: str) -> NoReturn:
    raise QueryError(status, message)


class MaterializeRoute(APIRoute):
    """Renders query, body and argument errors as the ME does (with the intended status)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except QueryError as error:
                return me_error(error.status, error.message)
            except SchemaErrors as error:
                return json_response({"schema_errors": error.messages}, 400)
            except ArgumentError as error:
                return restx_error(400, _ARGS_FAILED, error.errors)

        return route_handler


# -- query arguments (flask-restx reqparse) -----------------------------------------------------------


def flag(request: Request, name: str, default: bool) -> bool:
    """``inputs.boolean``: true/false, 1/0, on/off in any case."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = raw.lower()
    if value in ("true", "1", "on"):
        return True
    if value in ("false", "0", "off"):
        return False
    raise ArgumentError(name, f"Invalid literal for boolean(): {raw}")


def positive_int(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        if required:
            raise ArgumentError(name, "Missing required parameter in the query string")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ArgumentError(name, f"invalid literal for int() with base 10: '{raw}'") from None
    if value < 1:
        raise ArgumentError(name, f"{name} must be a positive integer")
    return value


def json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        fail(400, BAD_JSON)


# -- deployment lookups ---------------------------------------------------------------------------


def engine_of(request: Request) -> MaterializeEngine:
    engine = request.app.state.materialize
    assert isinstance(engine, MaterializeEngine)
    return engine


def datastack_of(engine: MaterializeEngine, name: str) -> Datastack:
    found = engine.datastack(name)
    if found is None:
        fail(404, f"datastack {name} not found")
    return found


def validated_version(engine: MaterializeEngine, ds: Datastack, number: int) -> Version:
    """``validate_datastack``: the version must exist (any status)."""
    found = engine.version(ds, number)
    if found is None:
        fail(404, f"version {number} not found in {ds.name}")
    return found


def check_read(request: Request, user: UserContext, info: TableInfo | None) -> None:
    """``check_read_permission``: PUBLIC, GROUP (share a group with the owner) or PRIVATE."""
    if info is None or info.read_permission == "PUBLIC" or info.user_id == str(user.id):
        return
    if info.read_permission == "GROUP":
        auth = request.app.state.auth
        assert isinstance(auth, AuthStore)
        record = auth.user_cache(int(info.user_id)) if info.user_id.isdigit() else None
        owner_groups = set() if record is None else {str(g) for g in record["groups"]}
        if set(user.groups) & owner_groups:
            return
        fail(
            401,
            "Unauthorized: You cannot read this table because you do not share a common group "
            "with the creator of this table.",
        )
    fail(401, "Unauthorized: The table can only be read by its owner")
