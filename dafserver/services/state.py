"""The JSON state service (NeuroglancerJsonServer 0.7.2): v1 routes and the legacy routes."""

from __future__ import annotations

import json
import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from dafserver.auth.guard import ErrorStyle, require_admin, require_token
from dafserver.auth.store import UserContext
from dafserver.responses import flask_json_bytes
from dafserver.services.state_store import (
    MAX_COMPRESSED_BYTES,
    DocumentKind,
    DocumentTooLarge,
    DuplicateId,
    StateStore,
)

VERSION = "0.7.2"
MAX_STATE_ID = 2**63 - 1
_TEXT = "text/html; charset=utf-8"

User = Annotated[UserContext, Depends(require_token(ErrorStyle.TEXT))]
Admin = Annotated[UserContext, Depends(require_admin(ErrorStyle.TEXT))]


def _text(body: str, status: int) -> Response:
    return Response(body, status_code=status, media_type=_TEXT)


def _json(content: object) -> Response:
    return Response(flask_json_bytes(content), media_type="application/json")


def _store(request: Request) -> StateStore:
    store = request.app.state.state
    assert isinstance(store, StateStore)
    return store


def _parse_id(raw: str) -> int | None:
    if not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_STATE_ID else None


def _url_base(request: Request) -> str:
    """``request.url.strip("/").rsplit("/", 1)[0]``: the route's parent URL, as production builds it."""
    url = str(request.url.replace(query=""))
    return url.strip("/").rsplit("/", 1)[0]


async def _save(
    request: Request,
    user: UserContext,
    kind: DocumentKind,
    url_base: str,
    state_id: int | None = None,
    timestamp: float | None = None,
) -> Response:
    raw = await request.body()
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _text("Input data is not JSON", 400)
    try:
        new_id = _store(request).save(
            raw, column=kind, user_id=str(user.id), state_id=state_id, timestamp=timestamp
        )
    except DocumentTooLarge:
        return _text(
            f"JSON data too large, must be compressible to <{MAX_COMPRESSED_BYTES} bytes.", 413
        )
    except DuplicateId:
        return _text("ID already exists", 409)
    return _json(f"{url_base}/{new_id}")


def _read(request: Request, raw_id: str, kind: DocumentKind, *, compressed: bool) -> Response:
    state_id = _parse_id(raw_id)
    if state_id is None:
        return _text(f"Invalid id: {raw_id}", 400)
    store = _store(request)
    if compressed:
        data = store.load_compressed(state_id, kind)
        if data is None:
            return _text(f"No JSON data found for id {state_id}", 404)
        return Response(data, media_type="application/octet-stream")
    data = store.load_compressed(state_id, kind)
    if data is None:
        return _text(f"No JSON data found for id {state_id}", 404)
    return _encoded_state(request, data)


def _encoded_state(request: Request, compressed: bytes) -> Response:
    """Production's Accept-Encoding quirk, reproduced exactly.

    With ``deflate`` accepted the body is the stored zlib stream; ``Content-Encoding: deflate`` is
    added only when ``gzip`` is accepted too (so ``gzip`` alone gets plain text labelled deflate).
    """
    accept = request.headers.get("accept-encoding", "")
    body = compressed if "deflate" in accept else zlib.decompress(compressed)
    headers = {"Vary": "Accept-Encoding"}
    if "gzip" in accept:
        headers["Content-Encoding"] = "deflate"
    return Response(body, media_type="application/json", headers=headers)


def build_router() -> APIRouter:
    """Routes of the state service; literal v1 routes come before the ``{state_id}`` catch-all."""
    router = APIRouter()
    _add_v1_only_routes(router)
    for prefix in ("/nglstate/api/v1", "/nglstate"):
        _add_state_routes(router, prefix)
    return router


def _add_v1_only_routes(router: APIRouter) -> None:
    v1 = "/nglstate/api/v1"

    @router.get(f"{v1}/version")
    def get_version(user: User) -> Response:
        return _json(VERSION)

    @router.post(f"{v1}/post/{{state_id}}")
    async def post_state_with_id(
        request: Request, state_id: str, admin: Admin, timestamp: float | None = None
    ) -> Response:
        parsed = _parse_id(state_id)
        if parsed is None:
            return _text(f"Invalid id: {state_id}", 400)
        return await _save(
            request, admin, DocumentKind.STATE, _url_base(request), parsed, timestamp
        )

    @router.post(f"{v1}/property/post")
    async def post_property(request: Request, user: User) -> Response:
        return await _save(request, user, DocumentKind.PROPERTIES, f"{_url_base(request)}")

    @router.post(f"{v1}/property/post/{{state_id}}")
    async def post_property_with_id(
        request: Request, state_id: str, admin: Admin, timestamp: float | None = None
    ) -> Response:
        parsed = _parse_id(state_id)
        if parsed is None:
            return _text(f"Invalid id: {state_id}", 400)
        return await _save(
            request, admin, DocumentKind.PROPERTIES, _url_base(request), parsed, timestamp
        )

    @router.get(f"{v1}/property/raw/{{state_id}}")
    def get_property_raw(request: Request, state_id: str, user: User) -> Response:
        return _read(request, state_id, DocumentKind.PROPERTIES, compressed=True)

    @router.get(f"{v1}/property/{{state_id}}/info")
    def get_property(request: Request, state_id: str, user: User) -> Response:
        return _read(request, state_id, DocumentKind.PROPERTIES, compressed=False)


def _add_state_routes(router: APIRouter, prefix: str) -> None:
    @router.post(f"{prefix}/post")
    async def post_state(request: Request, user: User) -> Response:
        return await _save(request, user, DocumentKind.STATE, _url_base(request))

    @router.api_route(f"{prefix}/post", methods=["GET", "PUT", "PATCH", "DELETE"])
    def post_other_methods() -> Response:
        # Production also answers GET here (reading the GET's body); that is not modelled, so the
        # literal route must not fall through to the ``{state_id}`` route below.
        raise HTTPException(405, headers={"Allow": "POST"})

    @router.get(f"{prefix}/raw/{{state_id}}")
    def get_state_raw(request: Request, state_id: str, user: User) -> Response:
        return _read(request, state_id, DocumentKind.STATE, compressed=True)

    @router.get(f"{prefix}/{{state_id}}")
    def get_state(request: Request, state_id: str, user: User) -> Response:
        return _read(request, state_id, DocumentKind.STATE, compressed=False)
