"""Error bodies in each service's own format, and the request-validation handler that uses them.

Every real service renders errors its own way: PyChunkedGraph ``{"code","duration","message","timestamp"}``
with the message prefixed ``[400]: ``, the AnnotationEngine ``{"code","message"}``, flask-restx services
``{"message"}``, the state server plain text. Malformed parameters that FastAPI rejects before a handler
runs are rendered here in the format of the service whose prefix the path starts with.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dafserver.responses import flask_json_bytes


class ServiceError(Exception):
    """An error a handler raises; rendered in the format of the service that raised it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def pcg_error(status: int, message: str, started: float | None = None) -> Response:
    """PyChunkedGraph's API error body (keys sorted, duration in ms, naive UTC timestamp)."""
    now = time.time()
    started = now if started is None else started
    body = {
        "code": status,
        "duration": round((now - started) * 1000, 3),
        "message": f"[{status}]: {message}",
        "timestamp": str(datetime.fromtimestamp(started, UTC).replace(tzinfo=None)),
    }
    return Response(flask_json_bytes(body), status_code=status, media_type="application/json")


def l2cache_error(status: int, message: str, started: float | None = None) -> Response:
    """PCGL2Cache's error body: its handler's ``{code, duration, message, timestamp, traceback}``
    (production sends it with status 500 for every failure; ``traceback`` is empty here)."""
    now = time.time()
    started = now if started is None else started
    body = {
        "code": status,
        "duration": round((now - started) * 1000, 3),
        "message": message,
        "timestamp": str(datetime.fromtimestamp(started, UTC).replace(tzinfo=None)),
        "traceback": [],
    }
    return Response(flask_json_bytes(body), status_code=status, media_type="application/json")


def annotation_error(status: int, message: str) -> Response:
    """The AnnotationEngine's error body, carrying the status the real code intends."""
    phrase = HTTPStatus(status).phrase
    body = {"code": status, "message": f"{status} {phrase}: {message}"}
    return Response(flask_json_bytes(body, sort_keys=False), status, media_type="application/json")


def restx_error(status: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    """flask-restx's error body (info and schema services)."""
    body: dict[str, Any] = (
        {"message": message} if errors is None else {"errors": errors, "message": message}
    )
    return Response(flask_json_bytes(body, sort_keys=False), status, media_type="application/json")


def text_error(status: int, message: str) -> Response:
    """A plain-text error labelled with Flask's default mimetype (the state server)."""
    return Response(message, status_code=status, media_type="text/html; charset=utf-8")


def render_for_path(path: str, status: int, message: str) -> Response:
    """Render an error in the format of the service that owns ``path``."""
    if path.startswith(("/segmentation", "/meshing")):
        return pcg_error(status, message)
    if path.startswith("/l2cache"):
        return l2cache_error(status, message)
    if path.startswith("/annotation"):
        return annotation_error(status, message)
    if path.startswith("/nglstate"):
        return text_error(status, message)
    return restx_error(status, message)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(
            str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body")
        )
        parts.append(
            f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg"))
        )
    return "; ".join(parts) or "invalid request"


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return render_for_path(request.url.path, 400, _describe(exc))


async def service_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return render_for_path(request.url.path, exc.status, exc.message)


_WERKZEUG_PAGE = "<!doctype html>\n<html lang=en>\n<title>{code} {phrase}</title>\n<h1>{phrase}</h1>\n<p>{text}</p>\n"


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Unrouted paths and wrong methods get Werkzeug's HTML pages, as from the real Flask apps."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status not in (404, 405):
        return render_for_path(request.url.path, status, str(exc.detail))
    phrase = HTTPStatus(status).phrase
    text = (
        "The requested URL was not found on the server."
        if status == 404
        else "The method is not allowed for the requested URL."
    )
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return Response(
        _WERKZEUG_PAGE.format(code=status, phrase=phrase, text=text),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves on the request's path (Werkzeug's ``Allow``)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods.update(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
