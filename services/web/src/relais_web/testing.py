"""For tests of the web app (its own and the repository's): settings whose APIs are
nowhere (a test answers in their place), and the cookie of a signed-in demo person."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from typing import Any

from itsdangerous import TimestampSigner

from relais_web.config import WebSettings
from relais_web.devidp.users import DemoUser


def offline_settings(**overrides: Any) -> WebSettings:
    """Test settings: a fixed session secret, every API and the IdP on ``.invalid`` hosts."""
    values: dict[str, Any] = {
        "env": "test",
        "session_secret": "test-session-secret",
        "oidc_discovery_url": "http://idp.invalid/.well-known/openid-configuration",
        "referral_url": "http://referral.invalid",
        "parcours_url": "http://parcours.invalid",
        "notifications_url": "http://notifications.invalid",
        "reporting_url": "http://reporting.invalid",
    }
    return WebSettings(**(values | overrides))


def session_cookie(
    settings: WebSettings,
    user: DemoUser,
    *,
    csrf: str = "csrf-ok",
    signed_at: float | None = None,
) -> str:
    """The cookie Starlette's SessionMiddleware would have written after a sign-in."""
    session = {
        "user": user.claims(),
        "token": f"token-of-{user.sub}",
        "token_exp": int(time.time()) + 3600,
        "csrf": csrf,
    }
    signer = TimestampSigner(settings.session_secret)
    if signed_at is not None:
        signer.get_timestamp = lambda: int(signed_at)  # type: ignore[method-assign]
    return signer.sign(b64encode(json.dumps(session).encode())).decode()
