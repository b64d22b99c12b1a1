"""Web page tests: the app in process; the APIs, where a page calls them, are a fake transport."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from relais_web.config import WebSettings
from relais_web.devidp.users import DEMO_USERS, DemoUser
from relais_web.main import create_app

Handler = Callable[[httpx.Request], httpx.Response]


def demo(role: str) -> DemoUser:
    return next(u for u in DEMO_USERS if u.role == role)


def session_cookie(
    settings: WebSettings, user: DemoUser, *, csrf: str = "csrf-ok", signed_at: float | None = None
) -> str:
    """The cookie Starlette's SessionMiddleware would have written after a sign-in."""
    session = {
        "user": {
            "sub": user.sub,
            "name": user.name,
            "org": user.org,
            "org_label": user.org_label,
            "pre": user.pre,
            "roles": [user.role],
        },
        "token": f"token-of-{user.sub}",
        "token_exp": int(time.time()) + 3600,
        "csrf": csrf,
    }
    signer = TimestampSigner(settings.session_secret)
    if signed_at is not None:
        signer.get_timestamp = lambda: int(signed_at)  # type: ignore[method-assign]
    return signer.sign(b64encode(json.dumps(session).encode())).decode()


class FakeApis:
    """Records each call to the APIs and answers with the handler a test installs."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(404, json={"code": "not_found"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return self.handler(request)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [
            json.loads(r.content) for r in self.calls if r.method == method and r.url.path == path
        ]


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    return WebSettings(
        env="test",
        session_secret="test-session-secret",
        oidc_discovery_url="http://idp.invalid/.well-known/openid-configuration",
        referral_url="http://referral.invalid",
        parcours_url="http://parcours.invalid",
        notifications_url="http://notifications.invalid",
        reporting_url="http://reporting.invalid",
    )


@pytest.fixture
def apis() -> FakeApis:
    return FakeApis()


@pytest.fixture
def client(settings: WebSettings, apis: FakeApis) -> Iterator[TestClient]:
    app = create_app(settings, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="http://web.test", follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def sign_in(client: TestClient, settings: WebSettings) -> Callable[[str], DemoUser]:
    def as_role(role: str) -> DemoUser:
        user = demo(role)
        client.cookies.set(settings.session_cookie, session_cookie(settings, user))
        return user

    return as_role
