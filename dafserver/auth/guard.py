"""Request guards that behave like middle_auth_client's decorators.

The token is read from the ``Authorization: Bearer`` header, else the ``middle_auth_token`` query
parameter, else the ``middle_auth_token`` cookie. Failures carry the real bodies and headers: JSON
``{"error", "message"[, "data"]}`` for the services on middle-auth-client 3.16+, plain text for the
JSON state server (middle-auth-client 3.6).

Deliberate deviation: middle_auth_client answers a request that carries no ``Authorization``,
``X-Requested-With`` or ``Origin`` header with a browser redirect (302) to the login page. dafserver
has no login page and treats every request as programmatic, so tokenless calls get the 401.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dafserver.auth.store import AuthStore, UserContext

TOKEN_NAME = "middle_auth_token"


class ErrorStyle(Enum):
    """How a service renders auth failures."""

    JSON = "json"
    TEXT = "text"


class AuthFailure(Exception):
    """An auth failure, rendered by :func:`auth_failure_response`."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def auth_failure_response(_request: Request, exc: Exception) -> Response:
    """FastAPI exception handler for :class:`AuthFailure`."""
    assert isinstance(exc, AuthFailure)
    if isinstance(exc.body, str):
        # Flask labels plain-text bodies with its default mimetype, and so do the real services.
        return Response(
            exc.body,
            status_code=exc.status,
            headers=exc.headers,
            media_type="text/html; charset=utf-8",
        )
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def _realm(request: Request) -> str:
    base = str(request.base_url).rstrip("/")
    return f'Bearer realm="{base}/sticky_auth/api/v1/authorize"'


def extract_token(request: Request, style: ErrorStyle) -> str | None:
    """The token of ``request`` by middle_auth's priority, or None; malformed headers raise."""
    header = request.headers.get("authorization")
    if header is not None:
        if not header.startswith("Bearer "):
            body: Any = (
                {
                    "error": "bad_auth_header",
                    "message": "Authorization header must begin with 'Bearer'",
                }
                if style is ErrorStyle.JSON
                else "Invalid Request"
            )
            description = "Header must begin with 'Bearer'"
            raise AuthFailure(
                400,
                body,
                {
                    "WWW-Authenticate": f'{_realm(request)}, error="invalid_request", '
                    f'error_description="{description}"'
                },
            )
        return header[len("Bearer ") :].strip() or None
    return request.query_params.get(TOKEN_NAME) or request.cookies.get(TOKEN_NAME) or None


def _store(request: Request) -> AuthStore:
    store = request.app.state.auth
    assert isinstance(store, AuthStore)
    return store


def authenticate(request: Request, style: ErrorStyle) -> UserContext:
    """The caller of ``request``; raises :class:`AuthFailure` (401) without a valid token."""
    token = extract_token(request, style)
    if token is None:
        raise AuthFailure(
            401,
            {"error": "no_token", "message": "Unauthorized - No Token Provided"}
            if style is ErrorStyle.JSON
            else "Unauthorized",
            {"WWW-Authenticate": _realm(request)},
        )
    user = _store(request).authenticate(token)
    if user is None:
        raise AuthFailure(
            401,
            {"error": "invalid_token", "message": "Unauthorized - Token is Invalid or Expired"}
            if style is ErrorStyle.JSON
            else "Invalid/Expired Token",
            {
                "WWW-Authenticate": f'{_realm(request)}, error="invalid_token", '
                'error_description="Invalid/Expired Token"'
            },
        )
    request.state.user = user
    return user


def require_token(style: ErrorStyle = ErrorStyle.JSON) -> Callable[[Request], UserContext]:
    """Dependency: any valid token (``auth_required``)."""

    def dependency(request: Request) -> UserContext:
        return authenticate(request, style)

    return dependency


def check_permission(
    request: Request, user: UserContext, permission: str, namespace: str, table: str
) -> str:
    """Raise unless ``user`` has ``permission`` on the dataset that ``namespace/table`` maps to."""
    dataset = _store(request).dataset_for(namespace, table)
    if dataset is None:
        raise AuthFailure(
            400,
            {
                "error": "invalid_table_id",
                "message": "Invalid table_id for service",
                "data": {"table_id": table, "resource_namespace": namespace, "auth_dataset": None},
            },
        )
    if not user.has_permission(dataset, permission):
        raise AuthFailure(
            403,
            {
                "error": "missing_permission",
                "message": f"Missing permission: {permission} for dataset {dataset}",
                "data": {"required_permission": permission, "auth_dataset": dataset},
            },
        )
    return dataset


def require_permission(
    permission: str, namespace: str, path_param: str
) -> Callable[[Request], UserContext]:
    """Dependency: ``auth_requires_permission(permission, table_arg=path_param)`` in ``namespace``."""

    def dependency(request: Request) -> UserContext:
        user = authenticate(request, ErrorStyle.JSON)
        check_permission(request, user, permission, namespace, request.path_params[path_param])
        return user

    return dependency


def require_admin(style: ErrorStyle = ErrorStyle.JSON) -> Callable[[Request], UserContext]:
    """Dependency: superadmin only (``auth_requires_admin``), 403 text otherwise."""

    def dependency(request: Request) -> UserContext:
        user = authenticate(request, style)
        if not user.admin:
            raise AuthFailure(403, "Requires superadmin privilege.")
        return user

    return dependency


def require_admin_role(style: ErrorStyle = ErrorStyle.JSON) -> Callable[[Request], UserContext]:
    """Dependency: some admin role (superadmin, dataset or group admin, service account).

    middle_auth 2.30 guards its user and group look-ups this way; others get 403 text.
    """

    def dependency(request: Request) -> UserContext:
        user = authenticate(request, style)
        if not _store(request).has_admin_role(user.id):
            raise AuthFailure(403, "Requires admin privilege.")
        return user

    return dependency
