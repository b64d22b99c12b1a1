"""Helpers of the web page tests: a signed-in session cookie, a fake of the four APIs."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Callable
from typing import Any

import httpx
from itsdangerous import TimestampSigner

from relais_web.config import WebSettings
from relais_web.devidp.users import DEMO_USERS, DemoUser

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
