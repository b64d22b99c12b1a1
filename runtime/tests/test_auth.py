"""Bearer JWT verification, role and PRE checks, key rotation, dev tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi import Path as FastapiPath
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey
from typer.testing import CliRunner

from relais_runtime.auth import (
    DEFAULT_LEEWAY_S,
    VERIFIED_CACHE_S,
    CurrentPrincipal,
    InvalidTokenError,
    JWTVerifier,
    Principal,
    ensure_same_tenant,
    generate_signing_key,
    install_auth,
    load_signing_key,
    mint_token,
    require_roles,
)
from relais_runtime.cli import app as cli_app
from relais_runtime.errors import install_error_handlers

ISSUER, AUDIENCE = "relais-test", "relais"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    generate_signing_key(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def verifier(keys_dir: Path) -> JWTVerifier:
    return JWTVerifier.from_jwks_file(keys_dir / "jwks.json", issuer=ISSUER, audience=AUDIENCE)


def make_app(verifier: JWTVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, verifier)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "sub": principal.sub,
            "org": principal.org,
            "pre": principal.tenant,
            "roles": sorted(principal.roles),
        }

    @app.get("/reviews")
    async def reviews(
        principal: Annotated[Principal, Depends(require_roles("coordinator", "referent"))],
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    @app.get("/pre/{pre_id}/situations")
    async def situations(
        tenant: Annotated[str, FastapiPath(alias="pre_id")], principal: CurrentPrincipal
    ) -> list[str]:
        ensure_same_tenant(principal, tenant)
        return []

    return app


@pytest.fixture
async def client(verifier: JWTVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://relais") as http:
        yield http


def token(keys_dir: Path, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "sub": "user-1",
        "org": "org-college-zola",
        "tenant": "pre-76540",
        "roles": ["coordinator"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
    }
    args.update(overrides)
    return mint_token(keys_dir / "jwt-signing.json", **args)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def sign_claims(keys_dir: Path, claims: dict[str, Any]) -> str:
    key = load_signing_key(keys_dir / "jwt-signing.json")
    return jwt.encode({"alg": "Ed25519", "kid": key.kid}, claims, key, algorithms=["Ed25519"])


def full_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "org": "org-1",
        "pre": "pre-76540",
        "roles": ["referent"],
        "iat": now,
        "exp": now + 600,
    }


async def assert_rejected(
    client: httpx.AsyncClient, value: str, code: str = "token_invalid"
) -> None:
    response = await client.get("/me", headers=bearer(value))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


async def test_valid_token_is_accepted(client: httpx.AsyncClient, keys_dir: Path) -> None:
    response = await client.get("/me", headers=bearer(token(keys_dir, roles=["referent"])))

    assert response.status_code == 200
    assert response.json() == {
        "sub": "user-1",
        "org": "org-college-zola",
        "pre": "pre-76540",
        "roles": ["referent"],
    }


async def test_missing_token_is_rejected_with_a_bearer_challenge_in_french(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="relais"'
    assert response.json() == {
        "code": "token_missing",
        "message": "Authentification requise : fournissez un jeton d'accès.",
    }


async def test_expired_token_is_rejected(client: httpx.AsyncClient, keys_dir: Path) -> None:
    issued = datetime.now(UTC) - timedelta(hours=2)
    expired = token(keys_dir, now=issued, ttl=timedelta(hours=1))

    response = await client.get("/me", headers=bearer(expired))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json() == {
        "code": "token_expired",
        "message": "Votre session a expiré : reconnectez-vous.",
    }


async def test_small_clock_skew_is_tolerated(client: httpx.AsyncClient, keys_dir: Path) -> None:
    slightly_ahead = datetime.now(UTC) + timedelta(seconds=10)

    response = await client.get("/me", headers=bearer(token(keys_dir, now=slightly_ahead)))

    assert response.status_code == 200


async def test_token_not_yet_valid_is_rejected(client: httpx.AsyncClient, keys_dir: Path) -> None:
    await assert_rejected(client, token(keys_dir, now=datetime.now(UTC) + timedelta(minutes=10)))


async def test_wrong_audience_is_rejected(client: httpx.AsyncClient, keys_dir: Path) -> None:
    await assert_rejected(client, token(keys_dir, audience="another-api"))


async def test_wrong_issuer_is_rejected(client: httpx.AsyncClient, keys_dir: Path) -> None:
    await assert_rejected(client, token(keys_dir, issuer="https://evil.example"))


async def test_token_signed_with_an_unknown_kid_is_rejected(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    stranger = generate_signing_key(tmp_path / "elsewhere")

    await assert_rejected(client, token(stranger.private_key.parent))


async def test_token_signed_by_another_key_under_a_known_kid_is_rejected(
    client: httpx.AsyncClient, keys_dir: Path
) -> None:
    known_kid = load_signing_key(keys_dir / "jwt-signing.json").kid
    forger = OKPKey.generate_key("Ed25519", parameters={"kid": known_kid})

    forged = jwt.encode(
        {"alg": "Ed25519", "kid": known_kid}, full_claims(), forger, algorithms=["Ed25519"]
    )

    await assert_rejected(client, forged)


async def test_tampered_signature_is_rejected(client: httpx.AsyncClient, keys_dir: Path) -> None:
    header, payload, signature = token(keys_dir, roles=["referent"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    raised = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    await assert_rejected(client, f"{header}.{raised}.{signature}")


@pytest.mark.parametrize("claim", ["sub", "org", "pre", "roles", "exp", "iat", "iss", "aud"])
async def test_token_missing_a_required_claim_is_rejected(
    client: httpx.AsyncClient, keys_dir: Path, claim: str
) -> None:
    claims = full_claims()
    del claims[claim]

    await assert_rejected(client, sign_claims(keys_dir, claims))


@pytest.mark.parametrize("roles", [["superuser"], ["coordinator", "root"], [], "coordinator", [1]])
async def test_unknown_or_malformed_roles_are_rejected(
    client: httpx.AsyncClient, keys_dir: Path, roles: Any
) -> None:
    await assert_rejected(client, sign_claims(keys_dir, {**full_claims(), "roles": roles}))


@pytest.mark.parametrize("tenant", ["", "PRE 76540", "pre.76540", 76540])
async def test_pre_claim_must_be_a_slug(
    client: httpx.AsyncClient, keys_dir: Path, tenant: Any
) -> None:
    await assert_rejected(client, sign_claims(keys_dir, {**full_claims(), "pre": tenant}))


async def test_unsigned_and_hmac_tokens_are_rejected(
    client: httpx.AsyncClient, keys_dir: Path
) -> None:
    jwks = json.loads((keys_dir / "jwks.json").read_text())
    public_as_secret = OctKey.import_key(json.dumps(jwks["keys"][0]))
    hmac = jwt.encode(
        {"alg": "HS256", "kid": jwks["keys"][0]["kid"]},
        full_claims(),
        public_as_secret,
        algorithms=["HS256"],
    )
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(full_claims()).encode()).rstrip(b"=").decode()

    await assert_rejected(client, hmac)
    await assert_rejected(client, f"{header}.{payload}.")
    await assert_rejected(client, "not-a-jwt")


async def test_role_outside_the_allowed_ones_gets_403(
    client: httpx.AsyncClient, keys_dir: Path
) -> None:
    allowed = await client.get("/reviews", headers=bearer(token(keys_dir, roles=["referent"])))
    refused = await client.get("/reviews", headers=bearer(token(keys_dir, roles=["partner"])))

    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "forbidden_role",
        "message": "Votre rôle ne vous permet pas d'effectuer cette action.",
    }


async def test_another_pre_gets_403_even_for_an_admin(
    client: httpx.AsyncClient, keys_dir: Path
) -> None:
    own = await client.get("/pre/pre-76540/situations", headers=bearer(token(keys_dir)))
    other = await client.get("/pre/pre-13055/situations", headers=bearer(token(keys_dir)))
    admin = await client.get(
        "/pre/pre-13055/situations", headers=bearer(token(keys_dir, roles=["admin"]))
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.json()["code"] == "forbidden_pre"
    assert other.json()["message"] == "Vous n'avez pas accès aux données de ce PRE."
    assert admin.status_code == 403


def test_require_roles_refuses_an_unknown_role_at_definition_time() -> None:
    with pytest.raises(ValueError, match="cordinator"):
        require_roles("cordinator")  # type: ignore[arg-type]


async def test_rotated_key_is_picked_up_without_restart(
    client: httpx.AsyncClient, keys_dir: Path
) -> None:
    old = token(keys_dir)
    assert (await client.get("/me", headers=bearer(old))).status_code == 200

    generate_signing_key(keys_dir)  # rotation: new signing key, old public key kept
    new = token(keys_dir)

    assert (await client.get("/me", headers=bearer(new))).status_code == 200
    assert (await client.get("/me", headers=bearer(old))).status_code == 200


async def test_key_removed_from_the_jwks_stops_being_accepted(keys_dir: Path) -> None:
    verifier = JWTVerifier.from_jwks_file(
        keys_dir / "jwks.json", issuer=ISSUER, audience=AUDIENCE, check_interval_s=0
    )
    old = token(keys_dir)
    await verifier.verify(old)

    generate_signing_key(keys_dir, keep_previous=0)

    await verifier.verify(token(keys_dir))
    with pytest.raises(Exception, match="unknown_kid"):
        await verifier.verify(old)


async def test_a_corrupt_jwks_keeps_the_previous_keys(keys_dir: Path) -> None:
    verifier = JWTVerifier.from_jwks_file(
        keys_dir / "jwks.json", issuer=ISSUER, audience=AUDIENCE, check_interval_s=0
    )
    await verifier.verify(token(keys_dir))

    (keys_dir / "jwks.json").write_text('{"keys": [')

    assert (await verifier.verify(token(keys_dir))).tenant == "pre-76540"


async def test_missing_jwks_answers_503(keys_dir: Path, tmp_path: Path) -> None:
    verifier = JWTVerifier.from_jwks_file(
        tmp_path / "absent.json", issuer=ISSUER, audience=AUDIENCE
    )
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://relais") as http:
        response = await http.get("/me", headers=bearer(token(keys_dir)))

    assert response.status_code == 503
    assert response.json()["code"] == "auth_unavailable"


async def test_es256_and_legacy_eddsa_tokens_are_accepted(tmp_path: Path) -> None:
    ec = ECKey.generate_key("P-256", parameters={"use": "sig"}, auto_kid=True)
    okp = OKPKey.generate_key("Ed25519", auto_kid=True)  # no "alg": usable as EdDSA
    jwks = {"keys": [ec.as_dict(private=False), okp.as_dict(private=False)]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    verifier = JWTVerifier.from_jwks_file(tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE)

    es256 = jwt.encode({"alg": "ES256", "kid": ec.kid}, full_claims(), ec, algorithms=["ES256"])
    with pytest.warns(SecurityWarning):  # joserfc: "EdDSA is deprecated via RFC 9864"
        eddsa = jwt.encode(
            {"alg": "EdDSA", "kid": okp.kid}, full_claims(), okp, algorithms=["EdDSA"]
        )
    with pytest.warns(SecurityWarning):
        legacy = await verifier.verify(eddsa)

    assert legacy.roles == frozenset({"referent"})
    assert (await verifier.verify(es256)).sub == "user-1"


def test_generated_private_key_is_private_and_jwks_is_public(keys_dir: Path) -> None:
    private = keys_dir / "jwt-signing.json"
    jwks = json.loads((keys_dir / "jwks.json").read_text())

    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert all("d" not in key for key in jwks["keys"])
    assert json.loads(private.read_text())["kid"] == jwks["keys"][0]["kid"]


def test_token_command_creates_keys_and_prints_only_a_valid_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setenv("RELAIS_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("RELAIS_JWT_AUDIENCE", AUDIENCE)
    keys = tmp_path / "var" / "keys"

    result = CliRunner().invoke(
        cli_app,
        [
            "token",
            "--role",
            "coordinator",
            "--role",
            "analyst",
            "--pre",
            "pre-76540",
            "--ttl",
            "15m",
            "--keys-dir",
            str(keys),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "signing key created" in result.stderr
    verifier = JWTVerifier.from_jwks_file(keys / "jwks.json", issuer=ISSUER, audience=AUDIENCE)
    principal = asyncio.run(verifier.verify(result.stdout.strip()))
    assert principal.roles == frozenset({"coordinator", "analyst"})
    assert principal.tenant == "pre-76540"


def test_token_command_refuses_an_unknown_role(tmp_path: Path, restore_logging: None) -> None:
    result = CliRunner().invoke(
        cli_app, ["token", "--role", "boss", "--pre", "pre-76540", "--keys-dir", str(tmp_path)]
    )

    assert result.exit_code != 0
    assert "boss" in result.output


def test_keys_init_jwt_does_not_replace_an_existing_key_unless_asked(
    keys_dir: Path, restore_logging: None
) -> None:
    before = (keys_dir / "jwt-signing.json").read_text()

    kept = CliRunner().invoke(cli_app, ["keys", "init-jwt", "--dir", str(keys_dir)])
    assert kept.exit_code == 0
    assert (keys_dir / "jwt-signing.json").read_text() == before

    rotated = CliRunner().invoke(cli_app, ["keys", "init-jwt", "--dir", str(keys_dir), "--rotate"])
    assert rotated.exit_code == 0
    assert (keys_dir / "jwt-signing.json").read_text() != before
    assert len(json.loads((keys_dir / "jwks.json").read_text())["keys"]) == 2


async def test_a_remembered_token_is_refused_once_it_expires(keys_dir: Path) -> None:
    clock = [time.time()]
    verifier = JWTVerifier.from_jwks_file(keys_dir / "jwks.json", issuer=ISSUER, audience=AUDIENCE)
    verifier._now = lambda: clock[0]
    short = token(keys_dir, ttl=timedelta(minutes=5))
    assert (await verifier.verify(short)).sub == "user-1"
    assert (await verifier.verify(short)).sub == "user-1"  # from the cache
    clock[0] += 5 * 60 + DEFAULT_LEEWAY_S + 1
    with pytest.raises(InvalidTokenError, match="expired"):
        await verifier.verify(short)


async def test_a_remembered_token_is_verified_again_after_the_cache_period(
    keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [time.time()]
    verifier = JWTVerifier.from_jwks_file(keys_dir / "jwks.json", issuer=ISSUER, audience=AUDIENCE)
    verifier._now = lambda: clock[0]
    value = token(keys_dir)
    await verifier.verify(value)
    checked: list[str] = []
    real = verifier._verify

    async def counting(t: str) -> Any:
        checked.append(t)
        return await real(t)

    monkeypatch.setattr(verifier, "_verify", counting)
    await verifier.verify(value)
    assert checked == []
    clock[0] += VERIFIED_CACHE_S + 1
    await verifier.verify(value)
    assert checked == [value]
