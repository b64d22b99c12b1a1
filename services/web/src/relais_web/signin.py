"""Sign-in with OpenID Connect (authorization code + PKCE, Authlib) and sign-out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from relais_runtime.auth import STAFF_ROLES, ClaimMapping, InvalidTokenError
from relais_runtime.logging import get_logger
from relais_web.config import WebSettings
from relais_web.session import PROVIDER, Form, Person, expiry_of, start_session
from relais_web.templating import templates

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)


def oauth_client(settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None) -> OAuth:
    """``transport`` replaces the network to the provider (tests in process only)."""
    client_kwargs: dict[str, Any] = {
        "scope": settings.oidc_scope,
        "code_challenge_method": "S256",
    }
    if transport is not None:
        client_kwargs["transport"] = transport
    oauth = OAuth()
    oauth.register(
        PROVIDER,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_discovery_url,
        client_kwargs=client_kwargs,
    )
    return oauth


def safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (open redirect) nor a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def _oauth(request: Request) -> Any:
    return request.app.state.oauth.create_client(PROVIDER)


def _callback_url(request: Request) -> str:
    public = _settings(request).public_url.rstrip("/")
    return f"{public}/auth/callback" if public else str(request.url_for("callback"))


@router.get("/connexion")
async def sign_in(request: Request, suite: str = "/") -> Response:
    request.session["next"] = safe_next(suite)
    response: Response = await _oauth(request).authorize_redirect(request, _callback_url(request))
    return response


@router.get("/auth/callback", name="callback")
async def callback(request: Request) -> Response:
    settings = _settings(request)
    target = safe_next(request.session.get("next"))
    try:
        token = await _oauth(request).authorize_access_token(request)
    except OAuthError as exc:
        log.info("sign-in failed", error=exc.error)
        return templates.TemplateResponse(
            request, "errors/signin_failed.html", {"person": None}, status_code=400
        )
    info = token.get("userinfo") or {}
    mapping = ClaimMapping(
        org=settings.claim_org,
        tenant=settings.claim_pre,
        roles=settings.claim_roles,
        role_names=settings.role_map,
    )
    try:
        who = mapping.principal(info, grantable=STAFF_ROLES)
    except InvalidTokenError as exc:
        log.warning("sign-in without the claims relais needs", reason=exc.reason)
        return templates.TemplateResponse(
            request, "errors/signin_failed.html", {"person": None}, status_code=403
        )
    claims = {
        "sub": who.sub,
        "name": str(info.get("name") or info.get("given_name") or ""),
        "org": who.org,
        "org_label": str(info.get("org_label") or who.org),
        "pre": who.tenant,
        "roles": sorted(who.roles),
    }
    start_session(
        request,
        claims=claims,
        token=token["access_token"],
        expires_at=expiry_of(token),
        refresh_token=token.get("refresh_token"),
    )
    log.info("signed in", roles=claims["roles"], org=who.org)
    return RedirectResponse(target, status_code=303)


@router.post("/deconnexion")
async def sign_out(request: Request, person: Person, form: Form) -> Response:
    request.session.clear()
    log.info("signed out", org=person.org)
    metadata = await _oauth(request).load_server_metadata()
    end = metadata.get("end_session_endpoint")
    public = _settings(request).public_url.rstrip("/") or str(request.base_url).rstrip("/")
    if end:
        client_id = _settings(request).oidc_client_id
        url = with_query(end, client_id=client_id, post_logout_redirect_uri=f"{public}/au-revoir")
        return RedirectResponse(url, status_code=303)
    return RedirectResponse("/au-revoir", status_code=303)


def with_query(base: str, **params: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"
