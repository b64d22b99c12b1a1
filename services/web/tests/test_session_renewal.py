"""A session outlives its access token through the provider's refresh token, the idle
timeout kept: the web pages and the dev provider in process, the APIs a fake transport."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from relais_runtime.auth import generate_signing_key
from relais_web.config import WebSettings
from relais_web.devidp.app import DevIdpSettings
from relais_web.devidp.app import create_app as create_idp
from relais_web.main import create_app

from .helpers import FakeApis

WEB = "http://web.test"
IDP = "http://127.0.0.1:8010"
FEED = {"items": [], "unread": 0, "limit": 100, "offset": 0}
ACCESS_TOKEN_S = 5 * 60
IDLE_S = 10 * 60


class Clock:
    """The wall clock the web pages, the provider and Authlib read (``time.time``), moved by
    the test instead of slept through."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return REAL_TIME() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


REAL_TIME = time.time


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


@pytest.fixture
def idp(tmp_path: Path) -> TestClient:
    generate_signing_key(tmp_path)
    # 5 min access tokens, shorter than the 10 min idle timeout: a page seen after them has
    # only the refresh token to go on.
    settings = DevIdpSettings(
        env="test",
        issuer=IDP,
        web_url=WEB,
        keys_dir=tmp_path,
        access_token_minutes=ACCESS_TOKEN_S / 60,
    )
    return TestClient(create_idp(settings), base_url=IDP, follow_redirects=False)


@pytest.fixture
def web(idp: TestClient, apis: FakeApis) -> Iterator[TestClient]:
    settings = WebSettings(
        env="test",
        session_secret="test-session-secret",
        session_idle_minutes=IDLE_S // 60,
        oidc_discovery_url=f"{IDP}/.well-known/openid-configuration",
        notifications_url="http://notifications.invalid",
    )
    apis.handler = lambda request: httpx.Response(200, json=FEED)
    app = create_app(
        settings,
        transport=httpx.MockTransport(apis),
        idp_transport=httpx.ASGITransport(app=idp.app),
    )
    with TestClient(app, base_url=WEB, follow_redirects=False) as client:
        yield client


def sign_in(web: TestClient, idp: TestClient, user: str) -> None:
    """The browser's path: web → provider's chooser → pick ``user`` → back to the web."""
    authorize = urlsplit(web.get("/connexion?suite=/notifications").headers["location"])
    back = idp.post(f"{authorize.path}?{authorize.query}", data={"user": user})
    callback = urlsplit(back.headers["location"])
    assert web.get(f"{callback.path}?{callback.query}").status_code == 303


def bearer_of_last_call(apis: FakeApis) -> str:
    return apis.calls[-1].headers["Authorization"].removeprefix("Bearer ")


def test_a_page_seen_after_the_access_token_expired_renews_it_with_the_refresh_token(
    web: TestClient, idp: TestClient, apis: FakeApis, clock: Clock
) -> None:
    sign_in(web, idp, "directrice-demo")
    assert web.get("/notifications").status_code == 200
    first = bearer_of_last_call(apis)
    clock.advance(60)  # still fresh: no renewal
    assert web.get("/notifications").status_code == 200
    assert bearer_of_last_call(apis) == first
    clock.advance(ACCESS_TOKEN_S)  # the access token is now past its end
    page = web.get("/notifications")
    assert page.status_code == 200
    assert "Mme Durand" in page.text
    renewed = bearer_of_last_call(apis)
    assert renewed != first
    assert web.get("/notifications").status_code == 200  # and again, on the renewed token


def test_without_a_refresh_token_the_session_ends_with_the_access_token(
    web: TestClient, idp: TestClient, apis: FakeApis, clock: Clock
) -> None:
    sign_in(web, idp, "directrice-demo")
    # The provider forgets every refresh token (as after a restart): renewal is refused.
    idp.app.state.server.refresh_tokens.clear()
    clock.advance(ACCESS_TOKEN_S + 1)
    response = web.get("/notifications")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=%2Fnotifications"
    assert "Se connecter" in web.get("/").text  # the session is over, not only this page


def test_a_session_idle_longer_than_the_timeout_ends_even_with_a_refresh_token(
    web: TestClient, idp: TestClient, apis: FakeApis, clock: Clock
) -> None:
    sign_in(web, idp, "directrice-demo")
    clock.advance(IDLE_S + 1)
    response = web.get("/notifications")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion?suite=")
    assert not [c for c in apis.calls if c.url.path == "/v1/feed"]


def test_the_home_page_after_the_access_token_expired_still_knows_the_person(
    web: TestClient, idp: TestClient, apis: FakeApis, clock: Clock
) -> None:
    sign_in(web, idp, "cmpp-demo")
    clock.advance(ACCESS_TOKEN_S + 1)
    home = web.get("/")
    assert "Dr Roussel" in home.text
    assert "Se déconnecter" in home.text
