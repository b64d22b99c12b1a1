"""OAuth2 bearer JWT verification and the FastAPI dependencies that use it.

Tokens are verified against a JWKS file (``RelaisSettings.jwks_path``), which holds
public keys only; the dev signing key lives next to it in a separate file
(``jwt-signing.json``, mode 0600). Accepted algorithms: ``Ed25519`` (RFC 9864, what
:func:`mint_token` signs with), ``EdDSA`` (its older name, as issued by most identity
providers) and ``ES256``.

A token must carry ``kid`` in its header, and the claims ``iss``, ``aud``, ``exp``,
``iat``, ``sub``, ``org``, ``pre`` and ``roles`` (a non-empty list of known roles);
``nbf`` is honoured when present. Clock skew of :data:`DEFAULT_LEEWAY_S` seconds is
tolerated.

Key rotation needs no restart: the verifier re-reads the JWKS when the file changes
(checked at most once a second, and at once when a token names an unknown ``kid``).
:func:`generate_signing_key` keeps the previous public keys in the JWKS so tokens
signed just before a rotation stay valid until they expire.

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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey

from relais_runtime.logging import get_logger
from relais_runtime.settings import RelaisSettings

__all__ = [
    "ALLOWED_ALGORITHMS",
    "JWKS_FILENAME",
    "ROLES",
    "SIGNING_KEY_FILENAME",
    "AuthUnavailableError",
    "InvalidTokenError",
    "JWTVerifier",
    "Principal",
    "Role",
    "SigningKeyPaths",
    "current_principal",
    "ensure_same_pre",
    "generate_signing_key",
    "install_auth",
    "load_signing_key",
    "mint_token",
    "require_roles",
]

log = get_logger(__name__)

Role = Literal["institution", "coordinator", "referent", "partner", "analyst", "admin"]
ROLES: Final[frozenset[str]] = frozenset(
    {"institution", "coordinator", "referent", "partner", "analyst", "admin"}
)
ALLOWED_ALGORITHMS: Final[tuple[str, ...]] = ("Ed25519", "EdDSA", "ES256")
DEFAULT_LEEWAY_S: Final = 30
JWKS_FILENAME: Final = "jwks.json"
SIGNING_KEY_FILENAME: Final = "jwt-signing.json"

#: PRE ids appear in routing keys: slugs only (``pre-76540``).
_PRE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SUPPORTED_KEY_TYPES = frozenset({("OKP", "Ed25519"), ("EC", "P-256")})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

SigningKey = OKPKey | ECKey


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, taken from a verified token."""

    sub: str
    org: str
    pre: str
    roles: frozenset[str]

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


class InvalidTokenError(Exception):
    """The token is not acceptable. ``reason`` is a short code for logs, never shown."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


class AuthUnavailableError(Exception):
    """No usable JWKS: a server-side fault, not the caller's."""


class JWTVerifier:
    """Verifies bearer tokens against a JWKS file, reloading it when it changes."""

    def __init__(
        self,
        jwks_path: Path,
        *,
        issuer: str,
        audience: str,
        leeway_s: int = DEFAULT_LEEWAY_S,
        algorithms: Iterable[str] = ALLOWED_ALGORITHMS,
        check_interval_s: float = 1.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_path = Path(jwks_path)
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.algorithms = tuple(algorithms)
        self.check_interval_s = check_interval_s
        self._now = now
        self._keys: dict[str, SigningKey] = {}
        self._file_signature: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: RelaisSettings) -> JWTVerifier:
        return cls(settings.jwks_path, issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    # -- keys --------------------------------------------------------------------------

    def _current_keys(self, *, force: bool = False) -> dict[str, SigningKey]:
        monotonic = time.monotonic()
        if not force and monotonic - self._checked_at < self.check_interval_s:
            return self._keys
        self._checked_at = monotonic
        try:
            st = os.stat(self.jwks_path)
        except OSError as exc:
            if self._keys:
                # Keep serving with the keys we have; a rotation may be replacing the file.
                log.warning("jwks unreadable, keeping previous keys", path=str(self.jwks_path))
                return self._keys
            raise AuthUnavailableError(f"JWKS not found at {self.jwks_path}") from exc
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature != self._file_signature:
            try:
                self._keys = _read_jwks(self.jwks_path)
            except (OSError, ValueError, JoseError) as exc:
                if not self._keys:
                    raise AuthUnavailableError(f"JWKS at {self.jwks_path} is unusable") from exc
                log.warning(
                    "jwks unusable, keeping previous keys",
                    path=str(self.jwks_path),
                    error=type(exc).__name__,
                )
                return self._keys
            self._file_signature = signature
            log.info("jwks loaded", path=str(self.jwks_path), kids=sorted(self._keys))
        return self._keys

    def _key_for(self, kid: str) -> SigningKey:
        key = self._current_keys().get(kid)
        if key is None:
            key = self._current_keys(force=True).get(kid)
        if key is None:
            raise InvalidTokenError("unknown_kid")
        return key

    # -- tokens ------------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise :class:`InvalidTokenError`."""
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidTokenError("malformed") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise InvalidTokenError("algorithm_not_allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("missing_kid")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in {"jwt", "at+jwt", "application/at+jwt"}:
            raise InvalidTokenError("wrong_typ")
        key = self._key_for(kid)
        try:
            decoded = jwt.decode(token, key, algorithms=self.algorithms)
        except JoseError as exc:
            raise InvalidTokenError("bad_signature") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
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
        return _principal_from_claims(claims)


def _principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    sub, org, pre, roles = (claims.get(k) for k in ("sub", "org", "pre", "roles"))
    if not isinstance(sub, str) or not sub:
        raise InvalidTokenError("claims: sub")
    if not isinstance(org, str) or not org:
        raise InvalidTokenError("claims: org")
    if not isinstance(pre, str) or not _PRE_ID.match(pre):
        raise InvalidTokenError("claims: pre")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidTokenError("claims: roles")
    if not set(roles) <= ROLES:
        raise InvalidTokenError("claims: unknown role")
    return Principal(sub=sub, org=org, pre=pre, roles=frozenset(roles))


def _read_jwks(path: Path) -> dict[str, SigningKey]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if (entry.get("kty"), entry.get("crv")) not in _SUPPORTED_KEY_TYPES:
            continue  # RFC 7517 §5: ignore keys we don't use
        if _PRIVATE_JWK_MEMBERS & entry.keys():
            log.warning("jwks contains private key material; using the public part only")
            entry = {k: v for k, v in entry.items() if k not in _PRIVATE_JWK_MEMBERS}
        key = JWKRegistry.import_key(entry)
        if not isinstance(key, OKPKey | ECKey):  # pragma: no cover - filtered above
            continue
        key.ensure_kid()
        assert key.kid is not None
        keys[key.kid] = key
    if not keys:
        raise ValueError("the JWKS holds no Ed25519 or P-256 signing key")
    return keys


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


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    verifier = getattr(request.app.state, "jwt_verifier", None)
    if not isinstance(verifier, JWTVerifier):
        raise RuntimeError("call relais_runtime.auth.install_auth(app, verifier) at start-up")
    if credentials is None or not credentials.credentials:
        raise _unauthorized("token_missing", MSG_MISSING, invalid=False)
    try:
        return verifier.verify(credentials.credentials)
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


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency factory: the caller must hold at least one of ``roles`` (or 403).

    ``Depends(require_roles("coordinator", "referent"))`` returns the :class:`Principal`.
    """
    unknown = set(roles) - ROLES
    if not roles or unknown:
        raise ValueError(f"require_roles needs known roles, got {sorted(unknown) or 'none'}")
    wanted = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.roles.isdisjoint(wanted):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail={"code": "forbidden_role", "message": MSG_ROLE},
            )
        return principal

    return dependency


def ensure_same_pre(principal: Principal, pre_id: str) -> None:
    """Raise 403 unless ``principal`` belongs to ``pre_id`` (no exception for admin)."""
    if principal.pre != pre_id:
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
    pre: str,
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
    if not _PRE_ID.match(pre):
        raise ValueError(f"pre must be a slug like 'pre-76540', got {pre!r}")
    key = load_signing_key(signing_key) if isinstance(signing_key, Path) else signing_key
    issued = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "org": org,
        "pre": pre,
        "roles": role_list,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl.total_seconds()),
        "jti": str(uuid.uuid4()),
    }
    claims.update(extra_claims or {})
    alg = _algorithm_for(key)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])
