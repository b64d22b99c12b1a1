"""Authlib's authorization server, wired to Starlette, holding everything in memory.

Authorization code with PKCE (S256, required) and OpenID Connect, and refresh tokens (kept
in memory until their end, not rotated: a page and the live feed renewing one session at
the same moment both succeed). The access token is the JWT today's services accept:
:func:`relais_runtime.auth.mint_token` with the dev signing key (same ``kid``, ``alg``,
``iss``, ``aud`` and ``sub, org, pre, roles`` claims). The ID token is signed with the
same key and published at ``jwks_uri``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from joserfc.jwk import ECKey, OKPKey
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from relais_runtime.auth import load_signing_key, mint_token
from relais_web.devidp.users import DemoUser, demo_user

CODE_TTL_S = 300


@dataclass(frozen=True, slots=True)
class DevClient:
    """The one registered client (relais-web), a confidential client with PKCE."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(slots=True)
class IssuedCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def is_expired(self) -> bool:
        return time.time() - self.auth_time > CODE_TTL_S


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    client_id: str
    user_sub: str
    scope: str
    expires_at: float

    def get_scope(self) -> str:
        return self.scope

    def check_client(self, client: DevClient) -> bool:
        return client.client_id == self.client_id

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


class _Payload(OAuth2Payload):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return self._values

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, {k: [v] for k, v in self._values.items()})


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's request over a Starlette request whose form was read beforehand."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = _Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]  # Authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        server: DevAuthorizationServer = self.server
        payload = request.payload
        assert payload is not None
        assert request.user is not None
        server.codes[code] = IssuedCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=payload.redirect_uri,
            scope=request.client.get_allowed_scope(payload.scope or ""),
            user_sub=request.user.sub,
            nonce=payload.data.get("nonce"),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: DevClient) -> IssuedCode | None:
        server: DevAuthorizationServer = self.server
        issued = server.codes.get(code)
        if issued and issued.client_id == client.client_id and not issued.is_expired():
            return issued
        return None

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        server: DevAuthorizationServer = self.server
        server.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: IssuedCode) -> DemoUser | None:
        return demo_user(authorization_code.user_sub)


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]  # Authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedRefreshToken | None:
        server: DevAuthorizationServer = self.server
        issued = server.refresh_tokens.get(refresh_token)
        if issued is None or issued.is_expired():
            server.refresh_tokens.pop(refresh_token, None)
            return None
        return issued

    def authenticate_user(self, refresh_token: IssuedRefreshToken) -> DemoUser | None:
        return demo_user(refresh_token.user_sub)

    def revoke_old_credential(self, refresh_token: IssuedRefreshToken) -> None:
        """Not rotated (no new one is issued): it serves until its end."""


class _RequiredS256(CodeChallenge):  # type: ignore[misc]  # Authlib is untyped
    """PKCE for every client, confidential ones included, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012

    def validate_code_challenge(self, grant: _CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: code_challenge with method S256")
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, server: DevAuthorizationServer) -> None:
        super().__init__(require_nonce=False)
        self._server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self._server.codes.values())

    def get_jwt_config(self, grant: object = None, client: object = None) -> dict[str, Any]:
        key = self._server.signing_key
        return {
            "key": key,
            "alg": self._server.algorithm,
            "kid": key.kid,
            "iss": self._server.issuer,
            "exp": 3600,
        }

    def get_client_claims(self, client: DevClient) -> dict[str, Any]:
        return {
            "iss": self._server.issuer,
            "aud": [client.client_id],
            "exp": int(time.time()) + 3600,
        }

    def generate_user_info(self, user: DemoUser, scope: str) -> dict[str, Any]:
        return user.claims()


class DevAuthorizationServer(AuthorizationServer):  # type: ignore[misc]  # Authlib is untyped
    def __init__(
        self,
        *,
        issuer: str,
        client: DevClient,
        signing_key_path: Path,
        access_token_issuer: str,
        access_token_audience: str,
        access_token_ttl: timedelta,
        refresh_token_ttl: timedelta,
    ) -> None:
        super().__init__(scopes_supported=["openid", "profile"])
        self.issuer = issuer
        self.client = client
        self.signing_key_path = signing_key_path
        self.access_token_issuer = access_token_issuer
        self.access_token_audience = access_token_audience
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.codes: dict[str, IssuedCode] = {}
        self.refresh_tokens: dict[str, IssuedRefreshToken] = {}
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_CodeGrant, [_RequiredS256(required=True), _OpenIDCode(self)])
        self.register_grant(_RefreshGrant)

    @property
    def signing_key(self) -> OKPKey | ECKey:
        # Read at each use: a key rotation (relais keys init-jwt) needs no restart.
        return load_signing_key(self.signing_key_path)

    @property
    def algorithm(self) -> str:
        alg = self.signing_key.get("alg")
        return alg if isinstance(alg, str) else "Ed25519"

    def public_jwks(self) -> dict[str, Any]:
        jwks_path = self.signing_key_path.with_name("jwks.json")
        data: dict[str, Any] = json.loads(jwks_path.read_text(encoding="utf-8"))
        return data

    def _generate_token(
        self,
        grant_type: str,
        client: DevClient,
        user: DemoUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert user is not None
        access_token = mint_token(
            self.signing_key,
            sub=user.sub,
            org=user.org,
            tenant=user.tenant,
            roles=[user.role],
            issuer=self.access_token_issuer,
            audience=self.access_token_audience,
            ttl=self.access_token_ttl,
        )
        token = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": int(self.access_token_ttl.total_seconds()),
            "scope": scope or "",
        }
        if include_refresh_token:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = IssuedRefreshToken(
                client_id=client.client_id,
                user_sub=user.sub,
                scope=scope or "",
                expires_at=time.time() + self.refresh_token_ttl.total_seconds(),
            )
            token["refresh_token"] = refresh
        return token

    # -- Authlib's framework hooks -----------------------------------------------------

    def query_client(self, client_id: str) -> DevClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are self-contained JWTs: nothing to keep."""

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """No signal subscribers in the dev provider."""

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status_code: int, payload: object, headers: list[tuple[str, str]]
    ) -> Response:
        header_map = dict(headers)
        if status_code == 302 and "Location" in header_map:
            return RedirectResponse(header_map["Location"], status_code=302)
        if isinstance(payload, dict):
            return JSONResponse(payload, status_code=status_code, headers=header_map)
        return Response(str(payload), status_code=status_code, headers=header_map)
