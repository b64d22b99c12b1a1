"""Web page tests: the app in process; the APIs, where a page calls them, are a fake transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from relais_web.config import WebSettings
from relais_web.devidp.users import DemoUser
from relais_web.main import create_app
from relais_web.testing import offline_settings

from .helpers import FakeApis, demo, session_cookie


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    return offline_settings()


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
        client.cookies.clear()  # one person at a time, as in a browser after sign-out
        client.cookies.set(settings.session_cookie, session_cookie(settings, user))
        return user

    return as_role
