"""Signing in to the web pages through the dev OpenID provider, as real processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from relais_web.config import DEV_CLIENT_SECRET
from tests.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

StackFactory = Callable[..., Awaitable[RunningStack]]


async def sign_in(http: httpx.AsyncClient, stack: RunningStack, user: str) -> httpx.Response:
    """Follow the browser's path: web → provider's chooser → pick ``user`` → web's home."""
    to_provider = await http.get(f"{stack.url('web')}/connexion?suite=%2F")
    assert to_provider.status_code == 302
    authorize = to_provider.headers["location"]
    assert authorize.startswith(f"{stack.url('devidp')}/authorize?")
    assert "code_challenge_method=S256" in authorize
    chooser = await http.get(authorize)
    assert chooser.status_code == 200
    back = await http.post(authorize, data={"user": user})
    assert back.status_code == 302
    callback = await http.get(back.headers["location"])
    assert callback.status_code == 303
    return await http.get(f"{stack.url('web')}{callback.headers['location']}")


async def test_a_school_director_signs_in_sees_her_home_and_signs_out(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(["web", "devidp"])
    async with httpx.AsyncClient(timeout=10) as http:
        home = await sign_in(http, stack, "directrice-demo")
        assert home.status_code == 200
        assert "Bonjour Mme Durand, directrice" in home.text
        assert home.headers["cache-control"] == "no-store"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert csrf is not None
        out = await http.post(f"{stack.url('web')}/deconnexion", data={"csrf_token": csrf[1]})
        assert out.status_code == 303
        assert out.headers["location"].startswith(f"{stack.url('devidp')}/logout?")
        goodbye = await http.get(out.headers["location"], follow_redirects=True)
        assert "Vous êtes déconnecté" in goodbye.text
        again = await http.get(f"{stack.url('web')}/")
        assert "Se connecter" in again.text
        assert "Mme Durand" not in again.text
    logs = stack.logs()
    assert "Mme Durand" not in logs  # the person's name is shown, never logged


async def test_the_providers_access_token_is_accepted_by_the_services_today(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(["devidp", "referral"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    callback = f"{stack.url('web')}/auth/callback"
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "relais-web",
            "redirect_uri": callback,
            "scope": "openid profile",
            "state": "s",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    async with httpx.AsyncClient(timeout=10) as http:
        granted = await http.post(
            f"{stack.url('devidp')}/authorize?{query}", data={"user": "directrice-demo"}
        )
        code = parse_qs(urlsplit(granted.headers["location"]).query)["code"][0]
        token = await http.post(
            f"{stack.url('devidp')}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback,
                "code_verifier": verifier,
            },
            auth=("relais-web", DEV_CLIENT_SECRET),
        )
        assert token.status_code == 200, token.text
        access = token.json()["access_token"]
        listed = await http.get(
            f"{stack.url('referral')}/v1/referrals",
            headers={"Authorization": f"Bearer {access}"},
        )
    assert listed.status_code == 200, listed.text


async def test_a_session_outlives_its_access_token_through_the_refresh_token(
    stack_factory: StackFactory,
) -> None:
    # Access tokens of 3 s: every page after that is served on a renewed one.
    stack = await stack_factory(
        ["web", "devidp", "referral"], extra_env={"DEVIDP_ACCESS_TOKEN_MINUTES": "0.05"}
    )
    async with httpx.AsyncClient(timeout=10) as http:
        home = await sign_in(http, stack, "directrice-demo")
        assert "Bonjour Mme Durand" in home.text
        for _ in range(2):
            await asyncio.sleep(3.5)
            listed = await http.get(f"{stack.url('web')}/orientations")
            assert listed.status_code == 200, listed.headers.get("location")
            assert "Mes orientations" in listed.text
    assert stack.logs().count("session renewed") >= 2
