"""The dev OpenID provider in process: code + PKCE, tokens today's services accept."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from relais_runtime.auth import JWTVerifier, generate_signing_key
from relais_web.config import DEV_CLIENT_SECRET
from relais_web.devidp import server
from relais_web.devidp.app import DevIdpSettings, NotInDevError, create_app

WEB = "http://127.0.0.1:8000"
IDP = "http://127.0.0.1:8010"
CALLBACK = f"{WEB}/auth/callback"


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_signing_key(tmp_path)
    return tmp_path


@pytest.fixture
def idp(keys: Path) -> TestClient:
    settings = DevIdpSettings(
        env="test", issuer="http://127.0.0.1:8010", web_url=WEB, keys_dir=keys
    )
    return TestClient(
        create_app(settings), base_url="http://127.0.0.1:8010", follow_redirects=False
    )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize_query(challenge: str | None, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": "relais-web",
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "st4te",
        "nonce": "n0nce",
        **extra,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return urlencode(params)


def _code_for(idp: TestClient, user: str, challenge: str) -> str:
    query = _authorize_query(challenge)
    assert idp.get(f"/authorize?{query}").status_code == 200
    response = idp.post(f"/authorize?{query}", data={"user": user})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    params = parse_qs(location.query)
    assert params["state"] == ["st4te"]
    return params["code"][0]


def _token(idp: TestClient, code: str, verifier: str) -> dict[str, object]:
    response = idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=("relais-web", DEV_CLIENT_SECRET),
    )
    body: dict[str, object] = response.json()
    body["status"] = response.status_code
    return body


def test_it_refuses_to_start_outside_dev_or_test(keys: Path) -> None:
    with pytest.raises(NotInDevError):
        DevIdpSettings(env="production", keys_dir=keys)


def test_the_chooser_lists_the_demo_people_of_every_role_in_french(idp: TestClient) -> None:
    _, challenge = _pkce()
    page = idp.get(f"/authorize?{_authorize_query(challenge)}").text
    assert '<html lang="fr"' in page
    for label in ("Mme Durand", "coordinatrice", "référente", "CMPP", "analyste"):
        assert label in page


def test_an_authorization_without_pkce_is_refused(idp: TestClient) -> None:
    response = idp.get(f"/authorize?{_authorize_query(None)}")
    assert response.status_code == 400
    assert "refusée" in response.text


def test_an_unregistered_redirect_uri_is_refused(idp: TestClient) -> None:
    _, challenge = _pkce()
    query = _authorize_query(challenge, redirect_uri="http://evil.example/cb")
    assert idp.get(f"/authorize?{query}").status_code == 400


async def test_code_and_pkce_give_an_access_token_the_services_accept(
    idp: TestClient, keys: Path
) -> None:
    verifier, challenge = _pkce()
    code = _code_for(idp, "directrice-demo", challenge)
    token = _token(idp, code, verifier)
    assert token["status"] == 200
    verifier = JWTVerifier.from_jwks_file(
        keys / "jwks.json", issuer="relais-dev", audience="relais"
    )
    principal = await verifier.verify(str(token["access_token"]))
    assert (principal.sub, principal.org, principal.tenant) == (
        "directrice-demo",
        "ecole-jules-ferry-rouen",
        "pre-76540",
    )
    assert principal.roles == frozenset({"institution"})


def test_the_id_token_is_signed_with_the_published_key_for_the_client(idp: TestClient) -> None:
    verifier, challenge = _pkce()
    token = _token(idp, _code_for(idp, "cmpp-demo", challenge), verifier)
    discovery = idp.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == "http://127.0.0.1:8010"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    keyset = KeySet.import_key_set(idp.get("/jwks").json())
    decoded = jwt.decode(
        str(token["id_token"]),
        keyset,
        algorithms=discovery["id_token_signing_alg_values_supported"],
    )
    assert decoded.claims["iss"] == "http://127.0.0.1:8010"
    assert decoded.claims["aud"] == ["relais-web"]
    assert decoded.claims["nonce"] == "n0nce"
    assert decoded.claims["roles"] == ["partner"]
    assert decoded.claims["org"] == "cmpp-rouen-rive-gauche"


def test_a_wrong_code_verifier_gets_no_token(idp: TestClient) -> None:
    _, challenge = _pkce()
    code = _code_for(idp, "directrice-demo", challenge)
    token = _token(idp, code, secrets.token_urlsafe(48))
    assert token["status"] == 400
    assert token["error"] == "invalid_grant"


def test_a_code_is_used_once(idp: TestClient) -> None:
    verifier, challenge = _pkce()
    code = _code_for(idp, "directrice-demo", challenge)
    assert _token(idp, code, verifier)["status"] == 200
    assert _token(idp, code, verifier)["status"] == 400


def test_sign_out_returns_only_to_the_web_pages(idp: TestClient) -> None:
    back = idp.get("/logout", params={"post_logout_redirect_uri": f"{WEB}/au-revoir"})
    assert back.headers["location"] == f"{WEB}/au-revoir"
    elsewhere = idp.get("/logout", params={"post_logout_redirect_uri": "http://evil.example/"})
    assert elsewhere.status_code == 200


def _refresh(idp: TestClient, refresh_token: str) -> dict[str, object]:
    response = idp.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=("relais-web", DEV_CLIENT_SECRET),
    )
    body: dict[str, object] = response.json()
    body["status"] = response.status_code
    return body


async def test_a_refresh_token_gives_a_new_access_token_for_the_same_person(
    idp: TestClient, keys: Path
) -> None:
    verifier, challenge = _pkce()
    first = _token(idp, _code_for(idp, "cmpp-demo", challenge), verifier)
    assert isinstance(first["refresh_token"], str)
    assert (
        "refresh_token"
        in idp.get("/.well-known/openid-configuration").json()["grant_types_supported"]
    )
    renewed = _refresh(idp, first["refresh_token"])
    assert renewed["status"] == 200
    assert renewed["access_token"] != first["access_token"]
    assert "refresh_token" not in renewed  # not rotated: the first one serves on
    tokens = JWTVerifier.from_jwks_file(keys / "jwks.json", issuer="relais-dev", audience="relais")
    principal = await tokens.verify(str(renewed["access_token"]))
    assert (principal.sub, principal.org) == ("cmpp-demo", "cmpp-rouen-rive-gauche")
    assert _refresh(idp, first["refresh_token"])["status"] == 200


def test_an_unknown_or_expired_refresh_token_is_refused(
    keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = DevIdpSettings(
        env="test", issuer=IDP, web_url=WEB, keys_dir=keys, refresh_token_hours=1 / 3600
    )
    idp = TestClient(create_app(settings), base_url=IDP, follow_redirects=False)
    assert _refresh(idp, "never-issued")["error"] == "invalid_grant"
    verifier, challenge = _pkce()
    issued = _token(idp, _code_for(idp, "cmpp-demo", challenge), verifier)
    # Two seconds later, on the provider's clock only (its refresh tokens live one second).
    later = time.time() + 2
    monkeypatch.setattr(server, "time", SimpleNamespace(time=lambda: later))
    refused = _refresh(idp, str(issued["refresh_token"]))
    assert (refused["status"], refused["error"]) == (400, "invalid_grant")
