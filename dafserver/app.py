"""The ASGI application: every service under its real path prefix, on one base URL."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dafserver import errors
from dafserver.auth.guard import AuthFailure, auth_failure_response
from dafserver.body_limit import (
    MAX_BODY_BYTES,
    BodyLimitMiddleware,
    BodyTooLarge,
    body_too_large_handler,
)
from dafserver.deployment import Deployment
from dafserver.faults import FaultConfig, config_from_env, install
from dafserver.materialize.engine import MaterializeEngine
from dafserver.services import (
    annotation,
    auth_routes,
    chunkedgraph,
    info,
    l2cache,
    materialize,
    materialize_v2,
    schema,
    state,
)


def create_app(
    deployment: Deployment,
    *,
    faults: FaultConfig | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the application serving ``deployment``.

    ``faults`` (default: ``$DAFSERVER_FAULTS``, else none) makes a share of requests fail.
    Request bodies over ``max_body_bytes`` are refused with 413 (:mod:`dafserver.body_limit`).
    """
    app = FastAPI(
        title="dafserver",
        description="Local reference deployment of the Dynamic Annotation Framework services.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.deployment = deployment
    app.state.auth = deployment.auth
    app.state.state = deployment.state
    app.state.info = deployment.info
    app.state.schemas = deployment.schemas
    app.state.annotation = deployment.annotation
    app.state.materialize = MaterializeEngine(deployment)
    app.add_exception_handler(AuthFailure, auth_failure_response)
    app.add_exception_handler(RequestValidationError, errors.validation_error_handler)
    app.add_exception_handler(errors.ServiceError, errors.service_error_handler)
    app.add_exception_handler(StarletteHTTPException, errors.http_error_handler)
    app.add_exception_handler(BodyTooLarge, body_too_large_handler)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    for service in (
        auth_routes,
        info,
        schema,
        annotation,
        state,
        chunkedgraph,
        l2cache,
        materialize,
        materialize_v2,
    ):
        app.include_router(service.build_router())
    app.state.fault_injector = install(app, faults if faults is not None else config_from_env())
    return app
