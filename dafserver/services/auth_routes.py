"""middle_auth (2.30.3) under ``/auth/api/v1``: API keys, user records and permission look-ups.

Every route needs a valid token (header > query > cookie, see :mod:`dafserver.auth.guard`). Bodies
are rendered like Flask ``jsonify`` (sorted keys, RFC 822 dates); refusals that production sends as
plain text keep Flask's ``text/html`` label. Malformed parameters that production turns into a 500
get the 4xx that the spec declares instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from dafserver.auth.guard import ErrorStyle, require_admin_role, require_token
from dafserver.auth.store import MAX_DB_INT, AuthStore, UserContext
from dafserver.responses import flask_json_bytes

PREFIX = "/auth/api/v1"
MAX_UINT64 = 2**64 - 1
DEFAULT_PER_PAGE = 20
_TEXT = "text/html; charset=utf-8"
_ID_LIST = re.compile(r"[0-9,]*")
_DIGITS = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")

User = Annotated[UserContext, Depends(require_token(ErrorStyle.JSON))]
AdminRole = Annotated[UserContext, Depends(require_admin_role(ErrorStyle.JSON))]


# -- rendering -------------------------------------------------------------------------------
def _json(content: Any, status: int = 200) -> Response:
    return Response(flask_json_bytes(content), status_code=status, media_type="application/json")


def _text(body: str, status: int) -> Response:
    return Response(body, status_code=status, media_type=_TEXT)


def _bad_request(message: str) -> Response:
    """A malformed parameter, in the middle_auth error shape."""
    return _json({"error": "bad_request", "message": message}, 400)


def _unrouted() -> HTTPException:
    """What Werkzeug answers when a typed route segment does not match: its HTML 404 page."""
    return HTTPException(status_code=404)


def http_date(timestamp: float | None) -> str | None:
    """An epoch timestamp as Flask ``jsonify`` writes datetimes (RFC 822, GMT)."""
    if timestamp is None:
        return None
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)


def _bounded_int(digits: str) -> int:
    """A run of ASCII digits (with an optional ``-``) as an int; huge magnitudes saturate.

    Python refuses to parse more than 4300 digits, and no id or page number needs more than 20.
    """
    negative = digits.startswith("-")
    magnitude = digits.lstrip("-").lstrip("0")
    value = int(magnitude or "0") if len(magnitude) <= 20 else MAX_UINT64 + 1
    return -value if negative else value


def _digits(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is only ASCII digits (Werkzeug's ``int`` converter)."""
    return _bounded_int(raw) if _DIGITS.fullmatch(raw) else None


def _first(request: Request, name: str) -> str | None:
    """The first value of a query parameter, as Flask's ``request.args.get`` returns it."""
    values = request.query_params.getlist(name)
    return values[0] if values else None


# -- user records ----------------------------------------------------------------------------
def _store(request: Request) -> AuthStore:
    store = request.app.state.auth
    assert isinstance(store, AuthStore)
    return store


def public_user(record: dict[str, Any]) -> dict[str, Any]:
    """The public form of a user record."""
    return {
        "id": int(record["id"]),
        "service_account": record["parent_id"] is not None,
        "name": str(record["name"]),
        "created": http_date(float(record["created"])),
        "pi": str(record["pi"]),
        "affiliations": [[]],
    }


def full_user(store: AuthStore, record: dict[str, Any]) -> dict[str, Any]:
    """The full form: the public one plus consent, administered datasets, admin flag and e-mail."""
    body = public_user(record)
    body.update(
        gdpr_consent=False,
        admin_datasets=store.administered_datasets(int(record["id"])),
        admin=bool(record["admin"]),
        email=str(record["email"]),
    )
    parent_id = record["parent_id"]
    if parent_id is not None:
        body["parent_id"] = int(parent_id)
        parent = store.user_record(int(parent_id))
        if parent is not None:
            body["parent"] = public_user(parent)
    return body


def _sees_full_records(store: AuthStore, user: UserContext) -> bool:
    """Superadmins and service accounts get the full form of other users' records."""
    record = store.user_record(user.id)
    return record is not None and (bool(record["admin"]) or record["parent_id"] is not None)


def _human_record(store: AuthStore, raw_id: str) -> dict[str, Any] | Response:
    """The non-service account ``raw_id`` names, or the response refusing it."""
    user_id = _digits(raw_id)
    if user_id is None:
        raise _unrouted()
    record = store.user_record(user_id) if user_id <= MAX_DB_INT else None
    if record is None or record["parent_id"] is not None:
        return _text("User doesn't exist", 404)
    return record


# -- routes ----------------------------------------------------------------------------------
def build_router() -> APIRouter:
    """Routes of middle_auth; the literal ``/user/...`` routes come before ``/user/{user_id}``."""
    router = APIRouter()
    _add_token_routes(router)
    _add_user_routes(router)
    _add_lookup_routes(router)
    return router


def _add_token_routes(router: APIRouter) -> None:
    @router.get(f"{PREFIX}/create_token")
    def create_token(request: Request, user: User) -> Response:
        return _json(_store(request).create_token(user.id))

    # One route for both methods, so that a 405 on this path lists both in ``Allow``.
    @router.api_route(f"{PREFIX}/user/token", methods=["GET", "POST"])
    async def user_tokens(request: Request, user: User) -> Response:
        if request.method == "POST":
            return await _create_user_token(request, user)
        return await run_in_threadpool(_get_user_tokens, request, user)

    @router.delete(f"{PREFIX}/user/token/{{token_id}}")
    def delete_user_token(request: Request, token_id: str, user: User) -> Response:
        key_id = _digits(token_id)
        if key_id is None:
            raise _unrouted()
        if key_id <= MAX_DB_INT and _store(request).delete_token(user.id, key_id):
            return _json("success")
        return _text("Token doesn't exist", 404)

    @router.get(f"{PREFIX}/user/token/{{key}}/ttl")
    def get_token_ttl(request: Request, key: str, user: User) -> Response:
        ttl = _store(request).token_ttl(user.id, key)
        if ttl is None:
            return _json(
                {
                    "error": "invalid_token",
                    "message": "Token does not exist or is not asociated with your account.",
                },
                404,
            )
        return _json(ttl)

    @router.get(f"{PREFIX}/refresh_token")
    def refresh_token(request: Request, user: User) -> Response:
        token = _store(request).replace_single_token(user.id)
        if token is None:
            return _text("Refresh token does not work for accounts with more than one API Key", 400)
        return _json(token)

    @router.get(f"{PREFIX}/logout")
    def logout(user: User) -> Response:
        # Only Redis login tokens can be logged out. dafserver has no login flow: every token it
        # accepts is an API key, which production refuses here.
        return _text("Can't logout an API Key.", 422)


async def _create_user_token(request: Request, user: UserContext) -> Response:
    raw = await request.body()
    description: Any = None
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:  # read with silent=True in production: not JSON means no body
            body = {}
        if not isinstance(body, dict):
            return _bad_request("The request body must be a JSON object")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            return _bad_request("description must be a string or null")
    store = _store(request)
    return _json(await run_in_threadpool(store.create_token, user.id, description))


def _get_user_tokens(request: Request, user: UserContext) -> Response:
    keys = sorted(_store(request).list_tokens(user.id), key=lambda k: -int(k["id"]))
    return _json(
        [
            {
                "id": int(k["id"]),
                "user_id": int(k["user_id"]),
                "token": str(k["key"]),
                "description": k["description"],
                "created": http_date(k["created"]),
                "updated": http_date(k["updated"]),
                "last_used": http_date(k["last_used"]),
            }
            for k in keys
        ]
    )


def _add_user_routes(router: APIRouter) -> None:
    @router.get(f"{PREFIX}/user/me")
    def get_user_me(request: Request, user: User) -> Response:
        store = _store(request)
        record = store.user_record(user.id)
        if record is None:  # deleted while the request was running
            return _text("User doesn't exist", 404)
        return _json(full_user(store, record))

    @router.get(f"{PREFIX}/user/cache")
    def get_user_cache(request: Request, user: User) -> Response:
        cache = _store(request).user_cache(user.id)
        if cache is None:
            return _text("User doesn't exist", 404)
        return _json(cache)

    @router.get(f"{PREFIX}/username")
    def get_usernames(request: Request, user: User) -> Response:
        raw = _first(request, "id") or ""
        if not _ID_LIST.fullmatch(raw):
            return _bad_request(f"Invalid user ids: {raw!r}; expected comma-separated integers")
        ids = [_bounded_int(item) for item in raw.split(",") if item]
        rows = _store(request).users_by_ids(ids)
        return _json([{"id": int(r["id"]), "name": str(r["name"])} for r in rows])

    @router.get(f"{PREFIX}/user")
    def get_users(request: Request, user: AdminRole) -> Response:
        store = _store(request)
        id_filter, email, name = (
            _first(request, "id"),
            _first(request, "email"),
            _first(request, "name"),
        )
        paging = _paging(request)
        if isinstance(paging, Response):
            return paging
        if (id_filter or email or name) and min(paging) < 1:
            return _bad_request("page and per_page must be at least 1")
        if id_filter:
            ids = [_bounded_int(i) for i in id_filter.split(",") if _DIGITS.fullmatch(i)]
            records = store.users_by_ids(ids)
        elif email:
            records = store.users_matching("email", email)
        elif name:
            records = store.users_matching("name", name)
        else:
            return _user_page(store, user, *paging)
        render = _renderer(store, user)
        return _json([render(r) for r in records])

    @router.get(f"{PREFIX}/user/{{user_id}}")
    def get_user(request: Request, user_id: str, user: User) -> Response:
        store = _store(request)
        record = _human_record(store, user_id)
        if isinstance(record, Response):
            return record
        return _json(_renderer(store, user)(record))

    @router.get(f"{PREFIX}/user/{{user_id}}/permissions")
    def get_user_permissions(request: Request, user_id: str, user: AdminRole) -> Response:
        store = _store(request)
        record = _human_record(store, user_id)
        if isinstance(record, Response):
            return record
        cache = store.user_cache(int(record["id"]))
        return _json(cache) if cache is not None else _text("User doesn't exist", 404)

    @router.get(f"{PREFIX}/group/{{group_id}}/user")
    def get_group_users(request: Request, group_id: str, user: AdminRole) -> Response:
        parsed = _digits(group_id)
        if parsed is None:
            return _bad_request(f"Invalid group id: {group_id!r}")
        return _json(_store(request).group_users(parsed))


def _renderer(store: AuthStore, caller: UserContext) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The record form ``caller`` may see."""
    if _sees_full_records(store, caller):
        return lambda record: full_user(store, record)
    return public_user


def _paging(request: Request) -> tuple[int, int] | Response:
    """``page`` and ``per_page`` as integers (any sign), or the 400 refusing a non-integer.

    Production ignores them when a filter is given; they are checked anyway, so that a malformed
    value is never silently accepted.
    """
    numbers: list[int] = []
    for name, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
        raw = _first(request, name)
        if raw is None:
            numbers.append(default)
        elif _SIGNED.fullmatch(raw.strip()):
            numbers.append(_bounded_int(raw.strip()))
        else:
            return _bad_request(f"{name} must be an integer, not {raw!r}")
    return numbers[0], numbers[1]


def _user_page(store: AuthStore, caller: UserContext, page: int, per_page: int) -> Response:
    """One page of the non-service accounts, with flask-sqlalchemy's pagination rules."""
    if page < 1 or per_page < 1:
        raise _unrouted()
    records = store.human_users()
    pages = -(-len(records) // per_page)
    if page > 1 and page > pages:
        raise _unrouted()
    start = (page - 1) * per_page
    render = _renderer(store, caller)
    items = [render(r) for r in records[start : start + per_page]]
    return _json({"pages": pages, "items": items})


def _add_lookup_routes(router: APIRouter) -> None:
    @router.get(f"{PREFIX}/service/{{service}}/table/{{table}}/dataset")
    def get_dataset_for_service_table(
        request: Request, service: str, table: str, user: User
    ) -> Response:
        dataset = _store(request).dataset_for(service, table)
        if dataset is None:
            return _text("No dataset for given service and table names", 404)
        return _json(dataset)

    @router.get(f"{PREFIX}/table/{{table_id}}/has_public")
    def table_has_public(request: Request, table_id: str, user: User) -> Response:
        return _json(_store(request).table_has_public_roots(table_id))

    @router.get(f"{PREFIX}/table/{{table_id}}/root/{{root_id}}/is_public")
    def is_root_public(request: Request, table_id: str, root_id: str, user: User) -> Response:
        parsed = _digits(root_id)
        if parsed is None or parsed > MAX_UINT64:
            return _bad_request(f"Invalid root id: {root_id!r}")
        return _json(_store(request).root_is_public(table_id, parsed))

    @router.post(f"{PREFIX}/table/{{table_id}}/root_all_public")
    async def are_roots_public(request: Request, table_id: str, user: User) -> Response:
        raw = await request.body()
        try:
            root_ids = json.loads(raw)
        except ValueError:
            root_ids = None
        if not isinstance(root_ids, list) or not root_ids:
            return _json({"error": "missing_root_ids"}, 400)
        parsed = [_as_uint64(r) for r in root_ids]
        if any(r is None for r in parsed):
            return _json(
                {
                    "error": "invalid_root_ids",
                    "message": "Root ids must be unsigned 64-bit integers",
                },
                400,
            )
        roots = [r for r in parsed if r is not None]
        store = _store(request)
        return _json(await run_in_threadpool(store.roots_all_public, table_id, roots))


def _as_uint64(value: object) -> int | None:
    """A JSON number as a uint64 (``2.0`` counts, as in JSON Schema), or None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_UINT64:
        return value
    return None
