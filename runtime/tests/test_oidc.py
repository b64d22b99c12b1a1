"""Tokens from an OpenID provider: discovery and JWKS over real HTTP, rotation, claim
mapping, algorithm confusion, and the guardian role kept off staff routes."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from relais_runtime.auth import (
    ClaimMapping,
    CurrentPrincipal,
    InvalidTokenError,
    JWTVerifier,
    Principal,
    TrustedIssuer,
    generate_signing_key,
    install_auth,
    load_signing_key,
    mint_token,
    require_roles,
)
from relais_runtime.errors import install_error_handlers
from relais_runtime.jwks import AuthUnavailableError, JWKSFile, OIDCProvider
from relais_runtime.settings import RelaisSettings

AUDIENCE = "relais-api"


@dataclass
class Provider:
    """A real HTTP server answering discovery and JWKS, as an identity provider does."""

    base: str = ""
    keys: list[Any] = field(default_factory=list)
    advertised_issuer: str | None = None
    down: bool = False
    hits: dict[str, int] = field(default_factory=lambda: {"discovery": 0, "jwks": 0})

    @property
    def issuer(self) -> str:
        return f"{self.base}/realms/relais"

    def sign(self, key: Any, alg: str, claims: dict[str, Any], **header: Any) -> str:
        header = {"alg": alg, "kid": key.kid, "typ": "JWT", **header}
        return jwt.encode(header, claims, key, algorithms=[alg])

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "f3a1c0de-agent",
            "iat": now,
            "exp": now + 300,
            "org": "pre-le-havre",
            "pre": "pre-76540",
            "roles": ["coordinator"],
        }
        claims.update(overrides)
        return claims


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            if self.path == "/realms/relais/.well-known/openid-configuration":
                state.hits["discovery"] += 1
                body: dict[str, Any] = {
                    "issuer": state.advertised_issuer or state.issuer,
                    "jwks_uri": f"{state.base}/realms/relais/protocol/openid-connect/certs",
                    "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
                }
            elif self.path == "/realms/relais/protocol/openid-connect/certs":
                state.hits["jwks"] += 1
                body = {"keys": [k.as_dict(private=False) for k in state.keys]}
            else:
                self.send_response(404)
                self.end_headers()
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    # shutdown() waits for the serving loop's next poll: 0.5 s by default, at every teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# One key per kid for the whole module: generating an RSA key costs up to a tenth of a second,
# and no test needs two different keys under one kid.
@functools.cache
def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


@functools.cache
def ec(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"})


def oidc_verifier(
    provider: Provider, *, claims: ClaimMapping | None = None, min_refresh_s: float = 0.0
) -> JWTVerifier:
    source = OIDCProvider(provider.issuer, min_refresh_s=min_refresh_s)
    trusted = TrustedIssuer(
        provider.issuer,
        source,
        algorithms=("RS256", "PS256", "ES256", "EdDSA", "Ed25519"),
        claims=claims or ClaimMapping(),
    )
    return JWTVerifier([trusted], audience=AUDIENCE)


def make_app(verifier: JWTVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, verifier)

    @app.get("/me")
    async def me(who: CurrentPrincipal) -> dict[str, Any]:
        return {"org": who.org, "pre": who.tenant, "roles": sorted(who.roles)}

    @app.get("/family")
    async def family(
        who: Annotated[Principal, Depends(require_roles("guardian"))],
    ) -> dict[str, Any]:
        return {"situation": who.situation}

    @app.get("/team")
    async def team(
        who: Annotated[Principal, Depends(require_roles("referent", "coordinator"))],
    ) -> dict[str, Any]:
        return {"sub": who.sub}

    return app


@pytest.fixture
async def http_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(verifier: JWTVerifier) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=make_app(verifier))
        client = httpx.AsyncClient(transport=transport, base_url="http://relais")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(verifier: JWTVerifier, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value.reason


@pytest.mark.parametrize(
    ("make_key", "alg"),
    [
        (lambda: rsa("rsa-1"), "RS256"),
        (lambda: rsa("rsa-1"), "PS256"),
        (lambda: ec("ec-1"), "ES256"),
        (lambda: OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"}), "Ed25519"),
    ],
)
async def test_a_token_signed_by_the_discovered_provider_is_accepted(
    provider: Provider, make_key: Any, alg: str
) -> None:
    key = make_key()
    provider.keys = [key]
    verifier = oidc_verifier(provider)

    principal = await verifier.verify(provider.sign(key, alg, provider.claims()))

    assert principal.roles == frozenset({"coordinator"})
    assert principal.tenant == "pre-76540"
    assert provider.hits == {"discovery": 1, "jwks": 1}


async def test_keys_are_cached_between_tokens(provider: Provider) -> None:
    key = rsa("rsa-1")
    provider.keys = [key]
    verifier = oidc_verifier(provider, min_refresh_s=60)

    for _ in range(5):
        await verifier.verify(provider.sign(key, "RS256", provider.claims()))

    assert provider.hits == {"discovery": 1, "jwks": 1}


async def test_a_rotation_to_a_new_kid_is_picked_up_at_the_first_token_naming_it(
    provider: Provider,
) -> None:
    old, new = rsa("2026-11"), ec("2026-12")
    provider.keys = [old]
    verifier = oidc_verifier(provider, min_refresh_s=0)
    await verifier.verify(provider.sign(old, "RS256", provider.claims()))

    provider.keys = [new, old]
    principal = await verifier.verify(provider.sign(new, "ES256", provider.claims()))

    assert principal.sub == "f3a1c0de-agent"
    assert provider.hits == {"discovery": 2, "jwks": 2}
    assert (await verifier.verify(provider.sign(old, "RS256", provider.claims()))).tenant


async def test_unknown_kids_refresh_the_keys_at_most_once_per_interval(
    provider: Provider,
) -> None:
    known = rsa("known")
    provider.keys = [known]
    clock = [1000.0]
    source = OIDCProvider(provider.issuer, min_refresh_s=60, monotonic=lambda: clock[0])
    verifier = JWTVerifier(
        [TrustedIssuer(provider.issuer, source, algorithms=("RS256",))], audience=AUDIENCE
    )
    await verifier.verify(provider.sign(known, "RS256", provider.claims()))
    stranger = rsa("made-up")

    for _ in range(20):
        assert await refused(verifier, provider.sign(stranger, "RS256", provider.claims()))
    assert provider.hits["jwks"] == 1  # the first fetch is 0 s old: no refresh yet

    clock[0] += 61
    provider.keys = [stranger, known]  # now really rotated
    await verifier.verify(provider.sign(stranger, "RS256", provider.claims()))
    for _ in range(5):
        await refused(verifier, provider.sign(rsa("other"), "RS256", provider.claims()))

    assert provider.hits["jwks"] == 2


async def test_wrong_issuer_or_audience_is_refused(provider: Provider) -> None:
    key = rsa("rsa-1")
    provider.keys = [key]
    verifier = oidc_verifier(provider)

    assert await refused(verifier, provider.sign(key, "RS256", provider.claims(aud="account")))
    assert await refused(
        verifier, provider.sign(key, "RS256", provider.claims(iss=provider.base + "/realms/x"))
    ) == ("untrusted_issuer")


async def test_unsigned_hmac_and_mismatched_algorithms_are_refused(provider: Provider) -> None:
    key, curve = rsa("rsa-1"), ec("ec-1")
    provider.keys = [key, curve]
    verifier = oidc_verifier(provider)
    await verifier.verify(provider.sign(key, "RS256", provider.claims()))
    # HS256 keyed with the public RSA key, as in the classic confusion attack.
    public_as_secret = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
    hmac = jwt.encode(
        {"alg": "HS256", "kid": "rsa-1"}, provider.claims(), public_as_secret, algorithms=["HS256"]
    )
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"rsa-1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(provider.claims()).encode()).rstrip(b"=").decode()
    # An ES256 signature presented under the RSA key's kid.
    swapped = jwt.encode(
        {"alg": "ES256", "kid": "rsa-1"}, provider.claims(), curve, algorithms=["ES256"]
    )

    assert await refused(verifier, hmac) == "algorithm_not_allowed"
    assert await refused(verifier, f"{header}.{body}.") == "algorithm_not_allowed"
    assert await refused(verifier, swapped) == "algorithm_key_mismatch"


async def test_a_discovery_naming_another_issuer_is_not_trusted(
    provider: Provider, http_for: Any
) -> None:
    key = rsa("rsa-1")
    provider.keys = [key]
    provider.advertised_issuer = "https://evil.example/realms/relais"
    client = http_for(oidc_verifier(provider))

    response = await client.get(
        "/me", headers=bearer(provider.sign(key, "RS256", provider.claims()))
    )

    assert response.status_code == 503
    assert response.json()["code"] == "auth_unavailable"


async def test_a_provider_down_after_the_first_fetch_keeps_the_known_keys(
    provider: Provider,
) -> None:
    key = rsa("rsa-1")
    provider.keys = [key]
    source = OIDCProvider(provider.issuer, min_refresh_s=0, max_age_s=0.001)
    verifier = JWTVerifier(
        [TrustedIssuer(provider.issuer, source, algorithms=("RS256",))], audience=AUDIENCE
    )
    await verifier.verify(provider.sign(key, "RS256", provider.claims()))

    provider.down = True
    time.sleep(0.01)

    assert (await verifier.verify(provider.sign(key, "RS256", provider.claims()))).tenant


async def test_a_provider_down_from_the_start_answers_503_not_401(provider: Provider) -> None:
    provider.down = True
    source = OIDCProvider(provider.issuer)

    with pytest.raises(AuthUnavailableError):
        await source.key_for("any")
    with pytest.raises(AuthUnavailableError):  # rate-limited: still unavailable, not "unknown"
        await source.key_for("any")


async def test_keycloak_nested_roles_are_mapped_and_other_roles_ignored(
    provider: Provider,
) -> None:
    key = rsa("rsa-1")
    provider.keys = [key]
    mapping = ClaimMapping(
        org="relais.org",
        tenant="https://relais.example/pre",
        roles="realm_access.roles",
        role_names={"pre-referent": "referent", "pre-coordination": "coordinator"},
    )
    verifier = oidc_verifier(provider, claims=mapping)
    claims = provider.claims(
        relais={"org": "ccas-le-havre"},
        realm_access={"roles": ["offline_access", "pre-referent", "default-roles-relais"]},
        **{"https://relais.example/pre": "pre-76540"},
    )
    del claims["org"], claims["pre"], claims["roles"]

    principal = await verifier.verify(provider.sign(key, "RS256", claims))
    no_relais_role = {**claims, "realm_access": {"roles": ["offline_access"]}}

    assert principal.roles == frozenset({"referent"})
    assert principal.org == "ccas-le-havre"
    assert principal.tenant == "pre-76540"
    assert await refused(verifier, provider.sign(key, "RS256", no_relais_role)) == (
        "claims: no relais role"
    )


def test_a_role_map_to_a_role_relais_does_not_have_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="guardian"):
        ClaimMapping(role_names={"parent": "guardian"})


async def test_settings_turn_on_the_oidc_mode_with_mapped_claims(
    provider: Provider, monkeypatch: pytest.MonkeyPatch, http_for: Any
) -> None:
    key = ec("ec-1")
    provider.keys = [key]
    monkeypatch.setenv("RELAIS_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("RELAIS_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("RELAIS_CLAIM_ROLES", "resource_access.relais.roles")
    monkeypatch.setenv("RELAIS_ROLE_MAP", '{"Référent PRE": "referent"}')
    client = http_for(JWTVerifier.from_settings(RelaisSettings()))
    claims = provider.claims(resource_access={"relais": {"roles": ["Référent PRE"]}})

    response = await client.get("/team", headers=bearer(provider.sign(key, "ES256", claims)))

    assert response.status_code == 200
    assert response.json() == {"sub": "f3a1c0de-agent"}


# -- the guardian role -----------------------------------------------------------------


@pytest.fixture
def two_issuers(tmp_path: Path) -> tuple[JWTVerifier, Path, Path]:
    staff, family = tmp_path / "staff", tmp_path / "family"
    generate_signing_key(staff)
    generate_signing_key(family)
    verifier = JWTVerifier(
        [
            TrustedIssuer("relais-dev", JWKSFile(staff / "jwks.json")),
            TrustedIssuer(
                "relais-family", JWKSFile(family / "jwks.json"), roles=frozenset({"guardian"})
            ),
        ],
        audience=AUDIENCE,
    )
    return verifier, staff / "jwt-signing.json", family / "jwt-signing.json"


def guardian_token(key: Path, issuer: str = "relais-family", **extra: Any) -> str:
    return mint_token(
        key,
        sub="guardian:1",
        org="family",
        tenant="pre-76540",
        roles=["guardian"],
        issuer=issuer,
        audience=AUDIENCE,
        extra_claims={"situation": "sit-1", **extra},
    )


async def test_a_guardian_token_opens_family_routes_only(
    two_issuers: tuple[JWTVerifier, Path, Path], http_for: Any
) -> None:
    verifier, _, family_key = two_issuers
    client = http_for(verifier)
    token = guardian_token(family_key)

    family = await client.get("/family", headers=bearer(token))
    me = await client.get("/me", headers=bearer(token))
    team = await client.get("/team", headers=bearer(token))

    assert family.status_code == 200
    assert family.json() == {"situation": "sit-1"}
    assert me.status_code == 403
    assert me.json()["code"] == "forbidden_role"
    assert team.status_code == 403


async def test_staff_tokens_do_not_open_family_routes(
    two_issuers: tuple[JWTVerifier, Path, Path], http_for: Any
) -> None:
    verifier, staff_key, _ = two_issuers
    client = http_for(verifier)
    referent = mint_token(
        staff_key, sub="r", org="o", tenant="pre-76540", roles=["referent"], audience=AUDIENCE
    )

    assert (await client.get("/family", headers=bearer(referent))).status_code == 403
    assert (await client.get("/team", headers=bearer(referent))).status_code == 200


async def test_only_the_family_issuer_grants_guardian_and_nothing_else(
    two_issuers: tuple[JWTVerifier, Path, Path],
) -> None:
    verifier, staff_key, family_key = two_issuers
    forged_by_staff_issuer = guardian_token(staff_key, issuer="relais-dev")
    coordinator_by_family = mint_token(
        family_key,
        sub="x",
        org="o",
        tenant="pre-76540",
        roles=["coordinator"],
        issuer="relais-family",
        audience=AUDIENCE,
    )
    signed_by_staff_key_as_family = guardian_token(staff_key)

    assert await refused(verifier, forged_by_staff_issuer) == (
        "claims: role not granted by this issuer"
    )
    assert await refused(verifier, coordinator_by_family) == (
        "claims: role not granted by this issuer"
    )
    assert await refused(verifier, signed_by_staff_key_as_family) == "unknown_kid"


async def test_a_guardian_token_without_its_situation_is_refused(
    two_issuers: tuple[JWTVerifier, Path, Path],
) -> None:
    verifier, _, family_key = two_issuers
    key = load_signing_key(family_key)
    claims = jwt.decode(guardian_token(family_key), key, algorithms=["Ed25519"]).claims
    del claims["situation"]
    token = jwt.encode({"alg": "Ed25519", "kid": key.kid}, claims, key, algorithms=["Ed25519"])

    assert await refused(verifier, token) == "claims: guardian without situation"


def test_guardian_cannot_be_required_together_with_staff_roles() -> None:
    with pytest.raises(ValueError, match="guardian"):
        require_roles("guardian", "referent")
