"""Where token verification finds its public keys: a JWKS file, or an OpenID provider.

* :class:`JWKSFile` reads a local JWKS (development, tests, and the family tokens that
  parcours signs itself). The file is re-read when it changes (checked at most once per
  ``check_interval_s``, and at once when a token names an unknown ``kid``).
* :class:`OIDCProvider` follows OpenID Connect discovery: ``<issuer>/.well-known/
  openid-configuration`` gives ``jwks_uri`` (and the issuer string, which must match the
  configured one exactly, OIDC Discovery §4.3). The JWKS is cached; it is fetched again
  when it is older than ``max_age_s``, or when a token names an unknown ``kid`` (a key
  rotation at the provider) but at most once per ``min_refresh_s``, so a flood of tokens
  with made-up ``kid`` values cannot turn the services into a load on the provider.

Keys kept: RSA (2048 bits or more), EC P-256 and OKP Ed25519 signing keys; private
members are dropped, other keys ignored (RFC 7517 §5).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from relais_runtime.logging import get_logger

__all__ = [
    "AuthUnavailableError",
    "InvalidTokenError",
    "JWKSFile",
    "KeySource",
    "OIDCProvider",
    "VerificationKey",
    "parse_jwks",
]

log = get_logger(__name__)

VerificationKey = OKPKey | ECKey | RSAKey

_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS: Final = 2048


class InvalidTokenError(Exception):
    """The token is not acceptable. ``reason`` is a short code for logs, never shown."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


class AuthUnavailableError(Exception):
    """No usable keys (file missing, provider unreachable): a server fault, not the caller's."""


class KeySource(Protocol):
    async def key_for(self, kid: str) -> VerificationKey:
        """The key named ``kid``; :class:`InvalidTokenError` ``unknown_kid`` if none."""
        ...


def parse_jwks(data: Any) -> dict[str, VerificationKey]:
    """The usable public signing keys of a JWKS document, by ``kid``."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    keys: dict[str, VerificationKey] = {}
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if not _supported(entry):
            continue
        if _PRIVATE_JWK_MEMBERS & entry.keys():
            log.warning("jwks contains private key material; using the public part only")
            entry = {k: v for k, v in entry.items() if k not in _PRIVATE_JWK_MEMBERS}
        try:
            key = JWKRegistry.import_key(entry)
        except (JoseError, ValueError, TypeError):
            log.warning("jwks entry unusable, ignored", kty=entry.get("kty"), kid=entry.get("kid"))
            continue
        if not isinstance(key, OKPKey | ECKey | RSAKey):  # pragma: no cover - filtered above
            continue
        if isinstance(key, RSAKey) and key.raw_value.key_size < _MIN_RSA_BITS:
            log.warning("jwks rsa key too short, ignored", kid=entry.get("kid"))
            continue
        key.ensure_kid()
        assert key.kid is not None
        keys[key.kid] = key
    if not keys:
        raise ValueError("the JWKS holds no RSA, P-256 or Ed25519 signing key")
    return keys


def _supported(entry: Mapping[str, Any]) -> bool:
    kty, crv = entry.get("kty"), entry.get("crv")
    return kty == "RSA" or (kty, crv) in {("OKP", "Ed25519"), ("EC", "P-256")}


class JWKSFile:
    """Keys from a local JWKS file, re-read when it changes (rotation without restart)."""

    def __init__(self, path: Path, *, check_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.check_interval_s = check_interval_s
        self._keys: dict[str, VerificationKey] = {}
        self._file_signature: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")

    async def key_for(self, kid: str) -> VerificationKey:
        key = self._current(force=False).get(kid) or self._current(force=True).get(kid)
        if key is None:
            raise InvalidTokenError("unknown_kid")
        return key

    def _current(self, *, force: bool) -> dict[str, VerificationKey]:
        monotonic = time.monotonic()
        if not force and monotonic - self._checked_at < self.check_interval_s:
            return self._keys
        self._checked_at = monotonic
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if self._keys:
                # Keep serving with the keys we have; a rotation may be replacing the file.
                log.warning("jwks unreadable, keeping previous keys", path=str(self.path))
                return self._keys
            raise AuthUnavailableError(f"JWKS not found at {self.path}") from exc
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature != self._file_signature:
            try:
                self._keys = parse_jwks(json.loads(self.path.read_text(encoding="utf-8")))
            except (OSError, ValueError, JoseError) as exc:
                if not self._keys:
                    raise AuthUnavailableError(f"JWKS at {self.path} is unusable") from exc
                log.warning(
                    "jwks unusable, keeping previous keys",
                    path=str(self.path),
                    error=type(exc).__name__,
                )
                return self._keys
            self._file_signature = signature
            log.info("jwks loaded", path=str(self.path), kids=sorted(self._keys))
        return self._keys


class OIDCProvider:
    """Keys of an OpenID provider, found by discovery and cached.

    ``issuer`` is the provider's issuer identifier exactly as its tokens carry it in
    ``iss`` (``https://sso.ville.example/realms/relais``); discovery is fetched from
    ``<issuer>/.well-known/openid-configuration`` and must name the same issuer.
    """

    def __init__(
        self,
        issuer: str,
        *,
        min_refresh_s: float = 60.0,
        max_age_s: float = 3600.0,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer.startswith(("https://", "http://")):
            raise ValueError(f"an OpenID issuer is an https URL, got {issuer!r}")
        self.issuer = issuer
        self.discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self.min_refresh_s = min_refresh_s
        self.max_age_s = max_age_s
        self._timeout = timeout_s
        self._transport = transport
        self._monotonic = monotonic
        self._jwks_uri: str | None = None
        self._keys: dict[str, VerificationKey] = {}
        self._loaded_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> VerificationKey:
        stale = not self._keys or self._monotonic() - self._loaded_at >= self.max_age_s
        if stale and self._may_fetch():
            await self._refresh(reason="stale")
        key = self._keys.get(kid)
        if key is None and self._may_fetch():
            await self._refresh(reason="unknown_kid")
            key = self._keys.get(kid)
        if key is None:
            if not self._keys:
                raise AuthUnavailableError(f"no usable keys from {self.issuer}")
            raise InvalidTokenError("unknown_kid")
        return key

    def _may_fetch(self) -> bool:
        # One fetch per min_refresh_s whatever the reason (failures included), so made-up
        # kids or an unreachable provider never turn each request into a fetch.
        return self._monotonic() - self._attempted_at >= self.min_refresh_s

    async def _refresh(self, *, reason: str) -> None:
        attempted_at = self._attempted_at
        async with self._lock:
            if self._attempted_at != attempted_at:
                return  # another request fetched while this one waited
            self._attempted_at = self._monotonic()
            try:
                async with httpx.AsyncClient(
                    timeout=self._timeout, transport=self._transport, follow_redirects=False
                ) as http:
                    if self._jwks_uri is None or reason == "unknown_kid":
                        # A rotation may come with a new jwks_uri: re-read discovery too.
                        self._jwks_uri = await self._discover(http)
                    response = await http.get(self._jwks_uri)
                    response.raise_for_status()
                    keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "oidc keys fetch failed",
                    issuer=self.issuer,
                    reason=reason,
                    error=type(exc).__name__,
                    kept=len(self._keys),
                )
                if not self._keys:
                    raise AuthUnavailableError(f"no usable keys from {self.issuer}") from exc
                return
            self._keys = keys
            self._loaded_at = self._monotonic()
            log.info("oidc jwks loaded", issuer=self.issuer, reason=reason, kids=sorted(keys))

    async def _discover(self, http: httpx.AsyncClient) -> str:
        response = await http.get(self.discovery_url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("the discovery document is not an object")
        if document.get("issuer") != self.issuer:
            raise ValueError(
                f"discovery names issuer {document.get('issuer')!r}, expected {self.issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_uri
