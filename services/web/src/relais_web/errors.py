"""French pages for what goes wrong, each saying what to do next."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from relais_runtime.logging import get_logger
from relais_web.api import ApiUnavailableError
from relais_web.session import (
    CsrfError,
    ForbiddenError,
    NotFoundError,
    SignInRequiredError,
    signed_in_or_none,
)
from relais_web.templating import templates

log = get_logger(__name__)


def _page(request: Request, template: str, status: int, **context: object) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {"person": signed_in_or_none(request), **context},
        status_code=status,
    )


def _return_path(request: Request) -> str:
    """Where to come back after signing in again: this page, or for a form the page it was on."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{request.url.path}{query}"
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return f"{referer.path}?{referer.query}" if referer.query else referer.path or "/"


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequiredError)
    async def sign_in_again(request: Request, exc: SignInRequiredError) -> Response:
        request.session.clear()
        return RedirectResponse(
            f"/connexion?suite={quote(_return_path(request), safe='')}", status_code=303
        )

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _page(request, "errors/403.html", 403, reason=exc.message)

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> Response:
        log.info("form refused: csrf token missing or wrong", path=request.url.path)
        return _page(request, "errors/csrf.html", 403)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _page(request, "errors/404.html", 404)

    @app.exception_handler(ApiUnavailableError)
    async def unavailable(request: Request, exc: ApiUnavailableError) -> Response:
        return _page(request, "errors/503.html", 503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _page(request, "errors/404.html", 404)
        if exc.status_code == 405:
            return _page(request, "errors/404.html", 405)
        return _page(request, "errors/500.html", exc.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("page failed", path=request.url.path)
        response = _page(request, "errors/500.html", 500)
        # Answered outside the middleware that adds these to every other page.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        return response
