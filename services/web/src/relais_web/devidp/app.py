"""The dev OpenID provider's HTTP side: discovery, keys, the demo-user chooser, tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from authlib.oauth2 import OAuth2Error
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict
from starlette.staticfiles import StaticFiles

from relais_runtime.auth import SIGNING_KEY_FILENAME
from relais_runtime.http import ops_router
from relais_runtime.logging import configure_logging, get_logger
from relais_runtime.settings import RelaisSettings
from relais_web.config import DEV_CLIENT_SECRET, WebSettings
from relais_web.devidp.server import DevAuthorizationServer, DevClient, StarletteOAuth2Request
from relais_web.devidp.users import DEMO_USERS, ROLE_LABELS, demo_user
from relais_web.main import STATIC_DIR
from relais_web.security import SecurityHeadersMiddleware
from relais_web.templating import templates

log = get_logger(__name__)


class NotInDevError(RuntimeError):
    """The dev provider refuses to start outside RELAIS_ENV=dev/test."""


class DevIdpSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="DEVIDP_", extra="ignore", populate_by_name=True)

    service_name: str = "devidp"
    http_port: int = 8010
    env: str = Field(default="production", validation_alias=AliasChoices("RELAIS_ENV"))
    #: This provider's public URL: the ``iss`` of its ID tokens and the base of its endpoints.
    issuer: str = "http://127.0.0.1:8010"
    web_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=AliasChoices("RELAIS_WEB_URL")
    )
    client_id: str = "relais-web"
    client_secret: str = DEV_CLIENT_SECRET
    keys_dir: Path = Field(
        default=Path("var/keys"), validation_alias=AliasChoices("RELAIS_KEYS_DIR")
    )
    #: Short in the tests that prove a session outlives its access token (0.05: 3 s).
    access_token_minutes: float = Field(default=60, gt=0)
    refresh_token_hours: float = Field(default=12, gt=0)
    dsfr_dir: Path = Field(default_factory=lambda: WebSettings.model_fields["dsfr_dir"].default)

    @model_validator(mode="after")
    def _dev_only(self) -> DevIdpSettings:
        if self.env not in ("dev", "test"):
            raise NotInDevError(
                "relais-dev-idp is a development tool: it starts only with RELAIS_ENV=dev or test"
            )
        return self


def create_app(settings: DevIdpSettings | None = None) -> FastAPI:
    settings = settings or DevIdpSettings()
    configure_logging("devidp", settings.log_level)
    issuer = settings.issuer.rstrip("/")
    web = settings.web_url.rstrip("/")
    server = DevAuthorizationServer(
        issuer=issuer,
        client=DevClient(settings.client_id, settings.client_secret, (f"{web}/auth/callback",)),
        signing_key_path=settings.keys_dir / SIGNING_KEY_FILENAME,
        access_token_issuer=settings.jwt_issuer,
        access_token_audience=settings.jwt_audience,
        access_token_ttl=timedelta(minutes=settings.access_token_minutes),
        refresh_token_ttl=timedelta(hours=settings.refresh_token_hours),
    )
    app = FastAPI(title="Relais — fournisseur d'identité de développement", docs_url=None)
    app.state.server = server
    app.add_middleware(SecurityHeadersMiddleware, form_action=("'self'", web))
    app.include_router(ops_router())
    if settings.dsfr_dir.is_dir():
        app.mount("/static/dsfr", StaticFiles(directory=settings.dsfr_dir), name="dsfr")
    app.mount("/static/relais", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "end_session_endpoint": f"{issuer}/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile"],
            "id_token_signing_alg_values_supported": [server.algorithm],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "org", "org_label", "pre", "roles"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return server.public_jwks()

    @app.get("/authorize", response_class=HTMLResponse)
    async def choose(request: Request) -> Response:
        oauth_request = StarletteOAuth2Request(request, {})
        try:
            server.get_consent_grant(oauth_request)
        except OAuth2Error as exc:
            return _refusal(request, exc)
        return templates.TemplateResponse(
            request,
            "devidp/choose.html",
            {"users": DEMO_USERS, "role_labels": ROLE_LABELS, "query": request.url.query},
        )

    @app.post("/authorize")
    async def grant(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        user = demo_user(form.pop("user", ""))
        oauth_request = StarletteOAuth2Request(request, {})
        try:
            grant = server.get_consent_grant(oauth_request, end_user=user)
        except OAuth2Error as exc:
            return _refusal(request, exc)
        if user is None:
            return _refusal(request, None)
        log.info("dev sign-in", role=user.role, org=user.org)
        response: Response = server.create_authorization_response(
            oauth_request, grant_user=user, grant=grant
        )
        return response

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        response: Response = server.create_token_response(StarletteOAuth2Request(request, form))
        return response

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        # No provider-side session to end: every sign-in shows the chooser again.
        target = request.query_params.get("post_logout_redirect_uri", "")
        if target and (target == web or target.startswith(f"{web}/")):
            return RedirectResponse(target, status_code=302)
        return JSONResponse({"status": "signed_out"})

    return app


def _refusal(request: Request, error: OAuth2Error | None) -> Response:
    return templates.TemplateResponse(
        request,
        "devidp/refused.html",
        {"error": error.error if error else "unknown_user"},
        status_code=400,
    )
