"""create_app(): the web pages in front of the four APIs; nothing else is wired here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from relais_runtime.http import ops_router
from relais_runtime.logging import configure_logging
from relais_web import errors, signin
from relais_web.api import Apis
from relais_web.config import WebSettings
from relais_web.family import pages as family_pages
from relais_web.pages import (
    analyst,
    closure,
    coordinator,
    directory,
    entry,
    family_requests,
    family_staff,
    home,
    institution,
    links,
    notices,
    partner,
    referent,
    subscriptions,
    webhooks,
)
from relais_web.security import SecurityHeadersMiddleware

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    settings: WebSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    idp_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``transport`` replaces the network to the APIs, ``idp_transport`` to the OpenID
    provider (tests in process only)."""
    settings = settings or WebSettings()
    configure_logging("web", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.api_timeout_s, transport=transport) as client:
            app.state.apis = Apis(settings, client)
            app.state.http = client
            yield

    app = FastAPI(
        title="Relais",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.oauth = signin.oauth_client(settings, idp_transport)
    provider = urlsplit(settings.oidc_discovery_url)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie=settings.session_cookie,
        max_age=settings.session_idle_minutes * 60,
        same_site="lax",  # the provider's redirect back (a top-level GET) must carry it
        https_only=not settings.is_dev,
    )
    app.add_middleware(
        SecurityHeadersMiddleware,
        form_action=("'self'", f"{provider.scheme}://{provider.netloc}"),
    )
    errors.install(app)
    app.include_router(ops_router())
    app.mount("/static/relais", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.dsfr_dir.is_dir():
        app.mount("/static/dsfr", StaticFiles(directory=settings.dsfr_dir), name="dsfr")
    app.include_router(signin.router)
    for router in (
        home.router,
        institution.router,
        coordinator.router,
        referent.router,
        directory.router,
        entry.router,  # before partner's /relais/{id}: it has /relais/annuaire
        partner.router,
        links.router,
        notices.router,
        subscriptions.router,
        webhooks.router,
        analyst.router,
        closure.router,
        family_staff.router,
        family_requests.router,
    ):
        app.include_router(router)
    family_pages.install(
        app,
        attempts_per_address=settings.family_attempts_per_address,
        window_s=settings.family_attempts_window_s,
    )
    return app
