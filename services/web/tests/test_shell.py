"""The web shell: security headers, sessions, CSRF, role homes, French error pages."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from relais_web.config import WebSettings
from relais_web.devidp.users import DemoUser
from relais_web.main import create_app
from relais_web.signin import safe_next

from .helpers import FakeApis, demo, session_cookie


def test_every_page_has_a_csp_without_unsafe_inline_and_is_not_stored(client: TestClient) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert response.status_code == 200
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"


def test_the_landing_page_offers_to_sign_in_in_french(client: TestClient) -> None:
    page = client.get("/").text
    assert '<html lang="fr"' in page
    assert 'href="/connexion"' in page
    assert "Se connecter" in page


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("institution", "adressez un enfant au PRE"),
        ("coordinator", "les orientations à examiner"),
        ("referent", "Les situations que vous suivez"),
        ("partner", "les demandes de relais du PRE à traiter"),
        ("analyst", "Les indicateurs anonymes"),
    ],
)
def test_each_role_gets_its_own_home_page(
    client: TestClient, sign_in: Callable[[str], DemoUser], role: str, expected: str
) -> None:
    user = sign_in(role)
    page = client.get("/").text
    assert expected in page
    assert user.name in page
    assert "Se déconnecter" in page


def test_a_page_that_needs_a_session_sends_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/deconnexion-inexistante")
    assert response.status_code == 404
    response = client.post("/deconnexion", data={"csrf_token": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion?suite=")


def test_a_session_idle_longer_than_the_timeout_is_over(
    client: TestClient, settings: WebSettings
) -> None:
    idle = settings.session_idle_minutes * 60
    stale = session_cookie(settings, demo("institution"), signed_at=time.time() - idle - 5)
    client.cookies.set(settings.session_cookie, stale)
    assert "Se connecter" in client.get("/").text
    fresh = session_cookie(settings, demo("institution"), signed_at=time.time() - idle + 60)
    client.cookies.set(settings.session_cookie, fresh)
    assert "Se déconnecter" in client.get("/").text


def test_the_session_cookie_is_httponly_samesite_and_renewed_on_each_page(
    client: TestClient, sign_in: Callable[[str], DemoUser], settings: WebSettings
) -> None:
    sign_in("partner")
    cookie = client.get("/").headers["set-cookie"]
    assert cookie.startswith(f"{settings.session_cookie}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert f"Max-Age={settings.session_idle_minutes * 60}" in cookie


def test_the_session_cookie_is_secure_outside_dev() -> None:
    settings = WebSettings(env="production", session_secret="s" * 32, oidc_client_secret="c" * 16)
    with TestClient(create_app(settings), base_url="https://web.test") as client:
        client.cookies.set(settings.session_cookie, session_cookie(settings, demo("partner")))
        cookie = client.get("/").headers["set-cookie"]
    assert "secure" in cookie.lower()


def test_a_form_without_the_session_csrf_token_is_refused_in_french(
    client: TestClient, sign_in: Callable[[str], DemoUser]
) -> None:
    sign_in("institution")
    response = client.post("/deconnexion", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert "Ce formulaire a expiré" in response.text
    assert "Se déconnecter" in client.get("/").text  # still signed in


def test_production_refuses_to_start_with_development_secrets() -> None:
    with pytest.raises(ValidationError, match="WEB_SESSION_SECRET"):
        WebSettings(env="production", session_secret="", oidc_client_secret="x")
    with pytest.raises(ValidationError, match="WEB_OIDC_CLIENT_SECRET"):
        WebSettings(env="production", session_secret="x", oidc_client_secret="")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/orientations?statut=x", "/orientations?statut=x"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
    ],
)
def test_after_sign_in_only_a_path_of_this_site_is_followed(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_an_unknown_page_is_a_french_404(client: TestClient) -> None:
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.text


def test_an_unexpected_failure_is_a_french_page_that_is_not_stored(
    settings: WebSettings, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug")

    apis.handler = broken
    app = create_app(settings, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="http://web.test", raise_server_exceptions=False) as client:
        client.cookies.set(settings.session_cookie, session_cookie(settings, demo("institution")))
        response = client.get("/orientations")
    assert response.status_code == 500
    assert "Une erreur est survenue" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
