"""The referral service's own secrets, per PRE, and its intake key.

Per PRE, one JSON file ``<secrets_dir>/<pre_id>.referral.json`` (mode 0600)::

    {"store": [<oct JWK>, ...], "index": <oct JWK>}

- ``store``: AES-256 master keys, the newest first. Each child's fiches are encrypted
  under a data key of the child's own (``relais_runtime.vault``), stored wrapped by the
  newest store key in ``subject_keys`` (its ``master_kid`` names the store key); deleting
  that row erases the child. Older store keys stay to unwrap what they wrapped. (Before
  migration 0005 a fiche was a JWE ``dir``/``A256GCM`` under the store key itself:
  :meth:`ReferralKeys.decrypt` reads those until the start-up job moved them.)
- ``index``: the HMAC key of the blind index (one child, one ``subject_id``);
  ``index_previous`` the keys it replaced while ``relais-referral keys rotate --index``
  recomputes the stored indexes (a submission meanwhile finds the child under either).

Rotation (``adapters/rotation.py``) puts the new key first at once, re-encrypts in the
background, then drops the old keys from the file.

Or the same JSON in ``REFERRAL_SECRETS_<PRE_ID>`` (container secrets). The intake key is
a P-256 pair (``intake.private.jwk.json``, previous ones ``intake.private.<kid>.jwk.json``)
or a JWK/JWKS in ``REFERRAL_INTAKE_KEY``: institutions publishing ``referral.submit`` over
AMQP seal the identity to its public part, served at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey

from relais_runtime.sealing import ALG as SEAL_ALG
from relais_runtime.sealing import KeyNotFoundError, PreKeys
from relais_runtime.vault import SubjectVault

STORE_ALG = "dir"
STORE_ENC = "A256GCM"
INTAKE_FILE = "intake.private.jwk.json"


class UnreadableError(ValueError):
    """A stored or received JWE could not be decrypted with the keys at hand."""


def _secrets_file(secrets_dir: Path, tenant: str) -> Path:
    return secrets_dir / f"{tenant}.referral.json"


def _env_name(tenant: str) -> str:
    return "REFERRAL_SECRETS_" + tenant.upper().replace("-", "_")


#: Bumped by every key file this process writes: its own rotations are seen at once.
_written = 0
#: How long a PRE's secrets file is trusted unchanged before it is looked at again
#: (``os.stat``); another process's rotation waits for a grace period longer than this.
RECHECK_S = 1.0


def _write_private(path: Path, content: str) -> None:
    global _written
    _written += 1
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _kid(prefix: str) -> str:
    return f"{prefix}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def _new_oct(kid: str) -> dict[str, Any]:
    key = OctKey.generate_key(256, parameters={"kid": kid})
    return key.as_dict(private=True)


def generate_pre_secrets(secrets_dir: Path, tenant: str, *, rotate_store: bool = False) -> bool:
    """Create the PRE's store and index keys; with ``rotate_store`` add a new store key.

    Returns False when keys existed and nothing was asked to change.
    """
    path = _secrets_file(secrets_dir, tenant)
    if path.exists():
        if not rotate_store:
            return False
        current = json.loads(path.read_text(encoding="utf-8"))
        current["store"] = [_new_oct(_kid(f"{tenant}.store")), *current["store"]]
    else:
        current = {
            "store": [_new_oct(_kid(f"{tenant}.store"))],
            "index": _new_oct(_kid(f"{tenant}.index")),
        }
    _write_private(path, json.dumps(current))
    return True


def _read_file(secrets_dir: Path, tenant: str) -> dict[str, Any]:
    path = _secrets_file(secrets_dir, tenant)
    if not path.exists():
        raise KeyNotFoundError(f"no referral secrets file for {tenant} in {secrets_dir}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def rotate_index_key(secrets_dir: Path, tenant: str) -> str:
    """A new blind-index key in front; the current one kept in ``index_previous``."""
    current = _read_file(secrets_dir, tenant)
    kid = _kid(f"{tenant}.index")
    current["index_previous"] = [current["index"], *current.get("index_previous", [])]
    current["index"] = _new_oct(kid)
    _write_private(_secrets_file(secrets_dir, tenant), json.dumps(current))
    return kid


def drop_old_keys(secrets_dir: Path, tenant: str, *, store: bool, index: bool) -> list[str]:
    """Destroy the store keys but the newest and/or the previous index keys; their kids."""
    current = _read_file(secrets_dir, tenant)
    dropped: list[str] = []
    if store:
        dropped += [k.get("kid", "") for k in current["store"][1:]]
        current["store"] = current["store"][:1]
    if index:
        dropped += [k.get("kid", "") for k in current.pop("index_previous", [])]
    _write_private(_secrets_file(secrets_dir, tenant), json.dumps(current))
    return dropped


def generate_intake_key(secrets_dir: Path, *, rotate: bool = False) -> ECKey | None:
    """Create the intake key pair; the previous private key is kept on rotation."""
    path = secrets_dir / INTAKE_FILE
    if path.exists():
        if not rotate:
            return None
        previous = json.loads(path.read_text(encoding="utf-8"))
        path.rename(secrets_dir / f"intake.private.{previous.get('kid', 'old')}.jwk.json")
    key = ECKey.generate_key(
        "P-256", parameters={"kid": _kid("referral-intake"), "use": "enc", "alg": SEAL_ALG}
    )
    _write_private(path, json.dumps(key.as_dict(private=True)))
    return key


@dataclass(frozen=True)
class _PreSecrets:
    """One PRE's secrets, parsed once per version of their source."""

    store: tuple[OctKey, ...]  # newest first
    store_set: KeySet
    index: bytes
    vault: SubjectVault
    index_kid: str
    #: Index keys being replaced (a rotation in progress), newest first.
    index_previous: tuple[bytes, ...]


def _oct_bytes(k: str) -> bytes:
    return base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))


def _parse_secrets(raw: str) -> _PreSecrets:
    data: dict[str, Any] = json.loads(raw)
    store = tuple(OctKey.import_key(k) for k in data["store"])
    masters = {k.get("kid", ""): _oct_bytes(k["k"]) for k in data["store"]}
    newest = data["store"][0]
    vault = SubjectVault(_oct_bytes(newest["k"]), kid=newest.get("kid", ""), previous=masters)
    return _PreSecrets(
        store,
        KeySet(list(store)),
        _oct_bytes(data["index"]["k"]),
        vault,
        data["index"].get("kid", ""),
        tuple(_oct_bytes(k["k"]) for k in data.get("index_previous", [])),
    )


@dataclass
class _Cached:
    """A PRE's parsed secrets, the source they came from, and when that was last checked."""

    signature: tuple[Any, ...]
    secrets: _PreSecrets
    checked: float = 0.0
    written: int = -1


class ReferralKeys:
    """Every key the referral service uses: PRE public keys and its own secrets.

    A PRE's secrets are parsed once and kept while their source is unchanged (the same
    environment value, or the same file: ``os.replace`` on rotation gives a new inode),
    instead of reading and parsing the file for every referral. The file is looked at
    (``os.stat``) at most once per ``RECHECK_S``, and at once after this process wrote a
    key file (its own rotation); a submission looks its keys up several times.
    """

    def __init__(self, keys_dir: Path, secrets_dir: Path) -> None:
        self.pre_keys = PreKeys(keys_dir)
        self.secrets_dir = secrets_dir
        self._cache: dict[str, _Cached] = {}

    # -- per PRE -------------------------------------------------------------------------

    def _secrets(self, tenant: str) -> _PreSecrets:
        raw = os.environ.get(_env_name(tenant))
        cached = self._cache.get(tenant)
        now = time.monotonic()
        if (
            raw is None
            and cached is not None
            and cached.signature[0] == "file"
            and cached.written == _written
            and now - cached.checked < RECHECK_S
        ):
            return cached.secrets  # the file was looked at less than RECHECK_S ago
        path = _secrets_file(self.secrets_dir, tenant)
        signature: tuple[Any, ...]
        if raw is not None:
            signature = ("env", hashlib.sha256(raw.encode()).digest())
        else:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise KeyNotFoundError(f"no referral secrets for {tenant}") from None
            signature = ("file", st.st_mtime_ns, st.st_size, st.st_ino)
        if cached is None or cached.signature != signature:
            parsed = _parse_secrets(raw if raw is not None else path.read_text(encoding="utf-8"))
            cached = _Cached(signature, parsed)
            self._cache[tenant] = cached
        cached.checked, cached.written = now, _written
        return cached.secrets

    def pre_public_key(self, tenant: str) -> ECKey:
        return self.pre_keys.public_key(tenant)

    def index_key(self, tenant: str) -> bytes:
        return self._secrets(tenant).index

    def index_kid(self, tenant: str) -> str:
        return self._secrets(tenant).index_kid

    def previous_index_keys(self, tenant: str) -> tuple[bytes, ...]:
        """Index keys a rotation is replacing (empty when none is under way)."""
        return self._secrets(tenant).index_previous

    def vault(self, tenant: str) -> SubjectVault:
        """The PRE's per-child key vault (its store keys are the masters)."""
        return self._secrets(tenant).vault

    def encrypt(self, tenant: str, payload: dict[str, Any]) -> str:
        """A fiche as stored before per-child keys (JWE under the PRE's store key); tests
        use it to make such rows for the start-up job that moves them."""
        key = self._secrets(tenant).store[0]
        header = {"alg": STORE_ALG, "enc": STORE_ENC, "kid": key.kid or ""}
        return jwe.encrypt_compact(header, json.dumps(payload).encode(), key)

    def decrypt(self, tenant: str, token: str) -> dict[str, Any]:
        """Open a fiche stored before per-child keys (JWE under a store key)."""
        keys = self._secrets(tenant).store_set
        try:
            plaintext = jwe.decrypt_compact(token, keys).plaintext or b""
        except (JoseError, ValueError) as exc:
            raise UnreadableError(type(exc).__name__) from None
        result: dict[str, Any] = json.loads(plaintext)
        return result

    # -- AMQP intake ---------------------------------------------------------------------

    def _intake_dicts(self) -> list[dict[str, Any]]:
        raw = os.environ.get("REFERRAL_INTAKE_KEY")
        if raw is not None:
            parsed = json.loads(raw)
            keys: list[dict[str, Any]] = parsed.get("keys", [parsed])
            return keys
        current = self.secrets_dir / INTAKE_FILE
        if not current.exists():
            return []
        older = sorted(self.secrets_dir.glob("intake.private.*.jwk.json"))
        return [json.loads(p.read_text(encoding="utf-8")) for p in [current, *older]]

    def intake_public_jwks(self) -> dict[str, Any]:
        """Public intake keys, the current one first (what senders should seal to)."""
        return {"keys": [ECKey.import_key(k).as_dict(private=False) for k in self._intake_dicts()]}

    def open_intake(self, token: str) -> dict[str, Any]:
        dicts = self._intake_dicts()
        if not dicts:
            raise KeyNotFoundError("no intake key")
        try:
            plaintext = jwe.decrypt_compact(
                token, KeySet([ECKey.import_key(k) for k in dicts])
            ).plaintext
        except (JoseError, ValueError) as exc:
            raise UnreadableError(type(exc).__name__) from None
        result = json.loads(plaintext or b"")
        if not isinstance(result, dict):
            raise UnreadableError("not a JSON object")
        return result
