"""Helpers of the web page tests: a signed-in session cookie (relais_web.testing), a fake of
the four APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from relais_web.devidp.users import DEMO_USERS, DemoUser
from relais_web.testing import session_cookie as session_cookie

Handler = Callable[[httpx.Request], httpx.Response]


def demo(role: str) -> DemoUser:
    return next(u for u in DEMO_USERS if u.role == role)


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
