"""The HTTP application shell every service shares: logging, auth, errors, metrics, traces, ops."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from relais_runtime import tracing
from relais_runtime.auth import JWTVerifier, install_auth
from relais_runtime.bodies import BodyLimit
from relais_runtime.db import bound_database_wait
from relais_runtime.errors import install_error_handlers
from relais_runtime.http import get_runtime, ops_router
from relais_runtime.logging import configure_logging
from relais_runtime.metrics import PrometheusMiddleware
from relais_runtime.openapi import document_api
from relais_runtime.runtime import ServiceRuntime

__all__ = ["build_app", "get_runtime", "migrations_dir"]


def build_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter] = (),
    family_tokens: bool = False,
) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops ``runtime``.

    ``family_tokens``: also trust the family issuer (guardians' sessions; parcours only).
    """
    settings = runtime.settings
    configure_logging(runtime.service, settings.log_level)
    # Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set (ADR 0019).
    tracing.configure(runtime.service)
    # /docs and /redoc with Swagger UI and ReDoc served from the fastapi-offline package: the
    # pages work without reaching a CDN (an offline PRE network, a locked-down browser).
    app = FastAPIOffline(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=runtime.lifespan,
        # No badge fetched from the online Swagger validator.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.runtime = runtime
    install_auth(app, JWTVerifier.from_settings(settings, family=family_tokens))
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes)
    install_error_handlers(app)
    app.add_middleware(PrometheusMiddleware, service=runtime.service)
    app.add_middleware(DatabaseWaitBound, seconds=settings.http_db_wait_s)
    app.include_router(ops_router(runtime.ready_checks()))
    for router in routers:
        app.include_router(router)
    document_api(app)
    tracing.instrument_app(app)
    return app


class DatabaseWaitBound:
    """Pure ASGI middleware: a request waits at most ``seconds`` for a database connection,
    then answers 503 ``database_busy`` with ``Retry-After`` (``db.bound_database_wait``)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with bound_database_wait(self.seconds):
            await self.app(scope, receive, send)


def migrations_dir(main_file: str) -> Path:
    """A service's migrations: packaged beside its code in a wheel, else the source tree.

    ``services/<name>/migrations`` is force-included as ``relais_<name>/migrations`` in
    built wheels (see each service's pyproject), so containers need no source checkout.
    """
    package = Path(main_file).resolve().parent
    packaged = package / "migrations"
    return packaged if packaged.is_dir() else package.parents[1] / "migrations"
