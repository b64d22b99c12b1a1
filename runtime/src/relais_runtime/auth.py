"""OAuth2 bearer JWT verification and the FastAPI dependencies that use it.

A :class:`JWTVerifier` trusts one or more issuers (:class:`TrustedIssuer`), each with
its keys (:mod:`relais_runtime.jwks`), algorithms, claim mapping and the roles it may
grant. The token's ``iss`` picks the issuer; its signature, ``iss`` and ``aud`` are then
checked against that issuer alone.

* Staff tokens come from the town's OpenID provider when ``RELAIS_OIDC_ISSUER`` is set
  (discovery, ``jwks_uri`` cached and refreshed on an unknown ``kid``; RS256, PS256,
  ES256, EdDSA/Ed25519), else from the development JWKS file (``RELAIS_JWKS_PATH``,
  Ed25519/EdDSA/ES256, signing key beside it in ``jwt-signing.json``, mode 0600).
  Which claims carry organisation, PRE and roles, and what the provider's role names
  mean, is configuration (:class:`ClaimMapping`, ``RELAIS_CLAIM_*``, ``RELAIS_ROLE_MAP``).
* Guardian tokens (a child's parent, one situation) come only from parcours's family
  issuer (``RELAIS_FAMILY_ISSUER``, keys in ``RELAIS_FAMILY_JWKS_PATH``), which grants
  nothing else, and open only routes declared with ``require_roles("guardian")``.

A token must carry ``kid`` in its header, and the claims ``iss``, ``aud``, ``exp``,
``iat``, ``sub`` and the mapped organisation, PRE and roles; ``nbf`` is honoured when
present. Clock skew of :data:`DEFAULT_LEEWAY_S` seconds is tolerated. The key's type
must fit the header's algorithm (no ``none``, no HMAC, no key used as another kind).

Key rotation needs no restart: a JWKS file is re-read when it changes;
:func:`generate_signing_key` keeps the previous public keys in it so tokens signed just
before a rotation stay valid until they expire.

PRE isolation (:func:`ensure_same_pre`) has **no admin exception**: ``admin`` administers
its own PRE. Relais holds minors' data; reaching another PRE's records must go through
that PRE's own accounts, never through a super-user role.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey

from relais_runtime.jwks import (
    AuthUnavailableError,
    InvalidTokenError,
    JWKSFile,
    KeySource,
    OIDCProvider,
    VerificationKey,
)
from relais_runtime.logging import get_logger
from relais_runtime.settings import RelaisSettings

__all__ = [
    "ALLOWED_ALGORITHMS",
    "GUARDIAN",
    "JWKS_FILENAME",
    "OIDC_ALGORITHMS",
    "ROLES",
    "SIGNING_KEY_FILENAME",
    "STAFF_ROLES",
    "AuthUnavailableError",
    "ClaimMapping",
    "InvalidTokenError",
    "JWTVerifier",
    "Principal",
    "Role",
    "SigningKeyPaths",
    "TrustedIssuer",
    "current_principal",
    "ensure_same_tenant",
    "generate_signing_key",
    "install_auth",
    "load_signing_key",
    "mint_token",
    "require_roles",
]

log = get_logger(__name__)

Role = Literal["institution", "coordinator", "referent", "partner", "analyst", "admin", "guardian"]
GUARDIAN: Final = "guardian"
#: Roles of people who work with Relais. ``guardian`` (a child's parent, scoped to one
#: situation) is apart: only parcours's own family issuer grants it, only routes that
#: name it accept it.
STAFF_ROLES: Final[frozenset[str]] = frozenset(
    {"institution", "coordinator", "referent", "partner", "analyst", "admin"}
)
ROLES: Final[frozenset[str]] = STAFF_ROLES | {GUARDIAN}
#: The dev issuer (keys in a JWKS file) signs with Ed25519; ES256 and EdDSA are accepted.
ALLOWED_ALGORITHMS: Final[tuple[str, ...]] = ("Ed25519", "EdDSA", "ES256")
#: What OpenID providers sign with: RS256 is the OIDC default (Keycloak, Azure AD,
#: ProConnect), PS256/ES256/EdDSA the better choices some offer. Never ``none`` or HS*.
OIDC_ALGORITHMS: Final[tuple[str, ...]] = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
DEFAULT_LEEWAY_S: Final = 30
#: How long a verified token is trusted without checking its signature again (at most
#: until its ``exp``), and how many such tokens are remembered.
VERIFIED_CACHE_S: Final = 60.0
VERIFIED_CACHE_SIZE: Final = 10_000
JWKS_FILENAME: Final = "jwks.json"
SIGNING_KEY_FILENAME: Final = "jwt-signing.json"
#: The claim of a guardian token naming the one situation it opens.
SITUATION_CLAIM: Final = "situation"

#: PRE ids appear in routing keys: slugs only (``pre-76540``).
_PRE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SITUATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Which key type each algorithm needs: a token never chooses how its key is used.
_KEY_TYPES: Final[Mapping[str, str]] = {
    "RS256": "RSA",
    "PS256": "RSA",
    "ES256": "EC",
    "EdDSA": "OKP",
    "Ed25519": "OKP",
}

SigningKey = OKPKey | ECKey


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, taken from a verified token.

    ``situation`` is set for a guardian only: the one situation (child) it may see.
    """

    sub: str
    org: str
    tenant: str
    roles: frozenset[str]
    situation: str | None = None

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


def _claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """``realm_access.roles`` reads nested claims; a claim whose own name has dots
    (``https://relais.example/pre``) is found whole first."""
    if path in claims:
        return claims[path]
    head, dot, rest = path.partition(".")
    while dot:
        inner = claims.get(head)
        if isinstance(inner, Mapping):
            return _claim_at(inner, rest)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Where a provider's tokens carry organisation, PRE and roles, and what its role
    names mean in Relais.

    Paths are claim names, dotted for nested claims (Keycloak: ``realm_access.roles``
    or ``resource_access.relais.roles``). Without ``role_names`` every name in the roles
    claim must be a Relais role. With it, only the names it maps count (``{"PRE -
    coordination": "coordinator"}``), so roles the provider gives for other
    applications are ignored; a token left with no Relais role is refused.
    """

    org: str = "org"
    tenant: str = "pre"
    roles: str = "roles"
    role_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.role_names.values()) - STAFF_ROLES
        if unknown:
            raise ValueError(f"role map targets unknown roles: {sorted(unknown)}")

    def principal(self, claims: Mapping[str, Any], *, grantable: frozenset[str]) -> Principal:
        sub = claims.get("sub")
        org, tenant = _claim_at(claims, self.org), _claim_at(claims, self.tenant)
        if not isinstance(sub, str) or not sub:
            raise InvalidTokenError("claims: sub")
        if not isinstance(org, str) or not org:
            raise InvalidTokenError("claims: org")
        if not isinstance(tenant, str) or not _PRE_ID.match(tenant):
            raise InvalidTokenError("claims: pre")
        roles = self._roles(_claim_at(claims, self.roles))
        if not roles <= grantable:
            raise InvalidTokenError("claims: role not granted by this issuer")
        situation: str | None = None
        if GUARDIAN in roles:
            situation = claims.get(SITUATION_CLAIM)
            if roles != {GUARDIAN}:
                raise InvalidTokenError("claims: guardian with other roles")
            if not isinstance(situation, str) or not _SITUATION_ID.match(situation):
                raise InvalidTokenError("claims: guardian without situation")
        return Principal(sub=sub, org=org, tenant=tenant, roles=roles, situation=situation)

    def _roles(self, value: Any) -> frozenset[str]:
        names = [value] if isinstance(value, str) and self.role_names else value
        if not isinstance(names, list) or not all(isinstance(r, str) for r in names):
            raise InvalidTokenError("claims: roles")
        if self.role_names:
            roles = frozenset(self.role_names[n] for n in names if n in self.role_names)
        elif set(names) <= ROLES:
            roles = frozenset(names)
        else:
            raise InvalidTokenError("claims: unknown role")
        if not roles:
            raise InvalidTokenError("claims: no relais role")
        return roles


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer whose tokens are accepted: its keys, algorithms, claims and the roles
    it may grant (a town's provider never grants ``guardian``; the family issuer grants
    nothing else)."""

    issuer: str
    keys: KeySource
    algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    roles: frozenset[str] = STAFF_ROLES


@dataclass(slots=True)
class _Verified:
    principal: Principal
    until: float  # the token's exp, or sooner
    issuer: TrustedIssuer
    kid: str
    key: VerificationKey


class JWTVerifier:
    """Verifies bearer tokens from one or more trusted issuers."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        *,
        audience: str,
        leeway_s: int = DEFAULT_LEEWAY_S,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not issuers:
            raise ValueError("a verifier needs at least one trusted issuer")
        self.issuers = {i.issuer: i for i in issuers}
        self.audience = audience
        self.leeway_s = leeway_s
        self._now = now
        #: A client sends the same token with every request: once its signature and claims
        #: are verified, the token is remembered until its ``exp`` (at most
        #: VERIFIED_CACHE_S), with the key that verified it. A hit still asks the issuer's
        #: key source for that kid, so a key withdrawn from the JWKS ends its tokens as
        #: soon as the source sees the change, as without the cache.
        self._verified: dict[str, _Verified] = {}

    @classmethod
    def from_jwks_file(
        cls,
        jwks_path: Path,
        *,
        issuer: str,
        audience: str,
        check_interval_s: float = 1.0,
        algorithms: Iterable[str] = ALLOWED_ALGORITHMS,
    ) -> JWTVerifier:
        source = JWKSFile(jwks_path, check_interval_s=check_interval_s)
        return cls([TrustedIssuer(issuer, source, algorithms=tuple(algorithms))], audience=audience)

    @classmethod
    def from_settings(cls, settings: RelaisSettings, *, family: bool = False) -> JWTVerifier:
        """The staff issuer (an OpenID provider when ``RELAIS_OIDC_ISSUER`` is set, else
        the JWKS file) and, with ``family``, parcours's own family issuer."""
        claims = ClaimMapping(
            org=settings.claim_org,
            tenant=settings.claim_pre,
            roles=settings.claim_roles,
            role_names=settings.role_map,
        )
        staff: TrustedIssuer
        if settings.oidc_issuer:
            provider = OIDCProvider(
                settings.oidc_issuer,
                min_refresh_s=settings.oidc_jwks_min_refresh_s,
                max_age_s=settings.oidc_jwks_max_age_s,
                timeout_s=settings.oidc_http_timeout_s,
            )
            staff = TrustedIssuer(
                settings.oidc_issuer,
                provider,
                algorithms=tuple(settings.oidc_algorithms),
                claims=claims,
            )
        else:
            staff = TrustedIssuer(settings.jwt_issuer, JWKSFile(settings.jwks_path), claims=claims)
        issuers = [staff]
        if family:
            if settings.family_issuer == staff.issuer:
                raise ValueError("RELAIS_FAMILY_ISSUER must differ from the staff issuer")
            issuers.append(
                TrustedIssuer(
                    settings.family_issuer,
                    JWKSFile(settings.family_jwks_path),
                    roles=frozenset({GUARDIAN}),
                )
            )
        return cls(issuers, audience=settings.jwt_audience)

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise :class:`InvalidTokenError`."""
        now = self._now()
        cached = self._verified.get(token)
        if cached is not None:
            if now < cached.until and await self._key_unchanged(cached):
                return cached.principal
            # pop, not del: another request may have dropped it while we awaited.
            self._verified.pop(token, None)
        verified = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            # Dicts keep insertion order: drop the oldest entry.
            self._verified.pop(next(iter(self._verified)), None)
        verified.until = min(verified.until, now + VERIFIED_CACHE_S)
        self._verified[token] = verified
        return verified.principal

    @staticmethod
    async def _key_unchanged(cached: _Verified) -> bool:
        """Whether the issuer still serves the very key that verified the token."""
        try:
            return await cached.issuer.keys.key_for(cached.kid) is cached.key
        except InvalidTokenError:  # the kid is gone: verify again, which says why
            return False

    async def _verify(self, token: str) -> _Verified:
        """Check signature and claims; raise :class:`InvalidTokenError`."""
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            header = compact.headers()
            unverified = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidTokenError("malformed") from exc
        # The unverified iss only picks whose keys to try; the signature and the iss
        # claim are then checked against that issuer alone.
        iss = unverified.get("iss") if isinstance(unverified, dict) else None
        trusted = self.issuers.get(iss) if isinstance(iss, str) else None
        if trusted is None:
            raise InvalidTokenError("untrusted_issuer")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in trusted.algorithms:
            raise InvalidTokenError("algorithm_not_allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("missing_kid")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in {"jwt", "at+jwt", "application/at+jwt"}:
            raise InvalidTokenError("wrong_typ")
        key = await trusted.keys.key_for(kid)
        _ensure_key_fits(key, alg)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except JoseError as exc:
            raise InvalidTokenError("bad_signature") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=self.leeway_s,
            iss={"essential": True, "value": trusted.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise InvalidTokenError("expired", expired=True) from exc
        except JoseError as exc:
            raise InvalidTokenError(f"claims: {exc.error} {exc.description}") from exc
        principal = trusted.claims.principal(claims, grantable=trusted.roles)
        return _Verified(principal, float(claims["exp"]), trusted, kid, key)


def _ensure_key_fits(key: VerificationKey, alg: str) -> None:
    # Algorithm confusion: the key's type (and its own "alg", when the JWKS states one)
    # must match what the header asks for.
    if key.key_type != _KEY_TYPES.get(alg):
        raise InvalidTokenError("algorithm_key_mismatch")
    declared = key.get("alg")
    if isinstance(declared, str) and declared != alg:
        legacy_ed = {declared, alg} == {"EdDSA", "Ed25519"}
        if not legacy_ed:
            raise InvalidTokenError("algorithm_key_mismatch")


# -- FastAPI -----------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Jeton d'accès OAuth2 (JWT) / OAuth2 access token (JWT).",
)

MSG_MISSING = "Authentification requise : fournissez un jeton d'accès."
MSG_INVALID = "Jeton d'accès invalide."
MSG_EXPIRED = "Votre session a expiré : reconnectez-vous."
MSG_UNAVAILABLE = "L'authentification est momentanément indisponible. Réessayez plus tard."
MSG_ROLE = "Votre rôle ne vous permet pas d'effectuer cette action."
MSG_PRE = "Vous n'avez pas accès aux données de ce PRE."


def install_auth(app: FastAPI, verifier: JWTVerifier) -> None:
    """Make ``verifier`` the one :func:`current_principal` uses for this app."""
    app.state.jwt_verifier = verifier


def _unauthorized(code: str, message: str, *, invalid: bool) -> HTTPException:
    challenge = 'Bearer realm="relais"'
    if invalid:
        challenge += ', error="invalid_token"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail={"code": code, "message": message},
        headers={"WWW-Authenticate": challenge},
    )


async def _verified_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    verifier = getattr(request.app.state, "jwt_verifier", None)
    if not isinstance(verifier, JWTVerifier):
        raise RuntimeError("call relais_runtime.auth.install_auth(app, verifier) at start-up")
    if credentials is None or not credentials.credentials:
        raise _unauthorized("token_missing", MSG_MISSING, invalid=False)
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidTokenError as exc:
        log.info("bearer token rejected", reason=exc.reason, path=request.url.path)
        if exc.expired:
            raise _unauthorized("token_expired", MSG_EXPIRED, invalid=True) from None
        raise _unauthorized("token_invalid", MSG_INVALID, invalid=True) from None
    except AuthUnavailableError:
        log.exception("token verification unavailable")
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"code": "auth_unavailable", "message": MSG_UNAVAILABLE},
        ) from None


def _forbidden_role() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_403_FORBIDDEN,
        detail={"code": "forbidden_role", "message": MSG_ROLE},
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified staff caller, or 401; a guardian gets 403.

    A guardian token opens only the routes that ask for it by name
    (``require_roles("guardian")``), never one that takes any signed-in caller.
    """
    principal = await _verified_principal(request, credentials)
    if GUARDIAN in principal.roles:
        log.info("guardian token refused on a staff route", path=request.url.path)
        raise _forbidden_role()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
_AnyPrincipal = Annotated[Principal, Depends(_verified_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency factory: the caller must hold at least one of ``roles`` (or 403).

    ``Depends(require_roles("coordinator", "referent"))`` returns the :class:`Principal`.
    ``require_roles("guardian")`` stands alone: family routes are not staff routes.
    """
    unknown = set(roles) - ROLES
    if not roles or unknown:
        raise ValueError(f"require_roles needs known roles, got {sorted(unknown) or 'none'}")
    wanted = frozenset(roles)
    if GUARDIAN in wanted:
        if wanted != {GUARDIAN}:
            raise ValueError("require_roles('guardian') cannot be combined with staff roles")

        async def guardian(principal: _AnyPrincipal) -> Principal:
            if principal.roles != {GUARDIAN} or principal.situation is None:
                raise _forbidden_role()
            return principal

        return guardian

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.roles.isdisjoint(wanted):
            raise _forbidden_role()
        return principal

    return dependency


def ensure_same_tenant(principal: Principal, tenant: str) -> None:
    """Raise 403 unless ``principal`` belongs to ``tenant`` (no exception for admin)."""
    if principal.tenant != tenant:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden_pre", "message": MSG_PRE},
        )


# -- keys and tokens for development ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigningKeyPaths:
    private_key: Path
    jwks: Path
    kid: str


def _write_atomically(path: Path, content: str, mode: int) -> None:
    # Write then rename: a verifier polling the JWKS never reads a half-written file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, mode)  # the umask may have narrowed O_CREAT's mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def generate_signing_key(directory: Path, *, keep_previous: int = 2) -> SigningKeyPaths:
    """Create a new Ed25519 signing key in ``directory`` and publish it in the JWKS.

    The private JWK goes to ``jwt-signing.json`` (mode 0600, replacing any previous one);
    ``jwks.json`` gets the new public key first, followed by up to ``keep_previous`` of
    the keys it already held, so tokens signed with them stay valid until they expire.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = OKPKey.generate_key("Ed25519", parameters={"alg": "Ed25519", "use": "sig"})
    key.ensure_kid()
    assert key.kid is not None
    jwks_path = directory / JWKS_FILENAME
    previous: list[dict[str, Any]] = []
    if jwks_path.exists():
        try:
            old = json.loads(jwks_path.read_text(encoding="utf-8"))
            previous = [k for k in old.get("keys", []) if isinstance(k, dict)]
        except (OSError, ValueError, AttributeError):
            log.warning("existing jwks unreadable, replacing it", path=str(jwks_path))
    public = dict(key.as_dict(private=False))
    keys = [public, *[k for k in previous if k.get("kid") != key.kid][:keep_previous]]
    # Publish the public key before the private one exists: no token can precede its key.
    _write_atomically(jwks_path, json.dumps({"keys": keys}, indent=2) + "\n", 0o644)
    private_path = directory / SIGNING_KEY_FILENAME
    _write_atomically(
        private_path, json.dumps(dict(key.as_dict(private=True)), indent=2) + "\n", 0o600
    )
    log.info("jwt signing key generated", kid=key.kid, directory=str(directory))
    return SigningKeyPaths(private_key=private_path, jwks=jwks_path, kid=key.kid)


def load_signing_key(path: Path) -> SigningKey:
    """Read a private JWK file written by :func:`generate_signing_key`."""
    key = JWKRegistry.import_key(json.loads(Path(path).read_text(encoding="utf-8")))
    if not isinstance(key, OKPKey | ECKey) or not key.is_private:
        raise ValueError(f"{path} does not hold a private Ed25519 or P-256 key")
    key.ensure_kid()
    return key


def _algorithm_for(key: SigningKey) -> str:
    alg = key.get("alg")
    if isinstance(alg, str):
        return alg
    return "Ed25519" if isinstance(key, OKPKey) else "ES256"


def mint_token(
    signing_key: Path | SigningKey,
    *,
    sub: str,
    org: str,
    tenant: str,
    roles: Iterable[str],
    issuer: str = "relais-dev",
    audience: str = "relais",
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """Sign an access token. ``extra_claims`` are merged last (tests use it to forge)."""
    role_list = list(roles)
    if not role_list or not set(role_list) <= ROLES:
        raise ValueError(f"roles must be among {sorted(ROLES)}, got {role_list}")
    if not _PRE_ID.match(tenant):
        raise ValueError(f"pre must be a slug like 'pre-76540', got {tenant!r}")
    key = load_signing_key(signing_key) if isinstance(signing_key, Path) else signing_key
    issued = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "org": org,
        "pre": tenant,
        "roles": role_list,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl.total_seconds()),
        "jti": str(uuid.uuid4()),
    }
    claims.update(extra_claims or {})
    alg = _algorithm_for(key)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])
