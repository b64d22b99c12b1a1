"""Sealed identity: JWE (ECDH-ES+A256KW, A256GCM) to a PRE's public key.

The child's identity and free-text notes leave the referral service only sealed to the
receiving PRE; only ``parcours`` holds the private keys. Keys are JWK files in a directory
(``<pre_id>.public.jwk.json`` / ``<pre_id>.private.jwk.json``, the private ones mode 0600)
or, for the private keys, an environment variable ``RELAIS_PRE_KEY_<PRE_ID>`` holding a
JWK or a JWKS (``pre-76540`` → ``RELAIS_PRE_KEY_PRE_76540``), as container secrets are.

Rotation seals new identities with the new key and keeps every previous private key
(``<pre_id>.private.<kid>.jwk.json``): what was sealed before stays readable, the JWE
header's ``kid`` selects the key.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jwe
from joserfc.jwk import ECKey, KeySet

ALG = "ECDH-ES+A256KW"
ENC = "A256GCM"


class KeyNotFoundError(LookupError):
    pass


def _env_name(tenant: str) -> str:
    return "RELAIS_PRE_KEY_" + tenant.upper().replace("-", "_")


def generate_pre_key(keys_dir: Path, tenant: str) -> ECKey:
    """Create a new P-256 key pair for a PRE; the key id carries the PRE and a date."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    kid = f"{tenant}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "enc", "alg": ALG})
    private_path = keys_dir / f"{tenant}.private.jwk.json"
    if private_path.exists():  # rotation: keep the previous key for what it sealed
        previous = json.loads(private_path.read_text())
        private_path.rename(keys_dir / f"{tenant}.private.{previous.get('kid', 'old')}.jwk.json")
    private_path.touch(mode=0o600, exist_ok=True)
    private_path.chmod(0o600)
    private_path.write_text(json.dumps(key.as_dict(private=True)))
    # Replaced, not rewritten in place: a new inode tells readers (PreKeys) it changed,
    # even within the file system's mtime granularity.
    public_path = keys_dir / f"{tenant}.public.jwk.json"
    tmp = public_path.with_name(f".{public_path.name}.tmp")
    tmp.write_text(json.dumps(key.as_dict(private=False)))
    os.replace(tmp, public_path)
    return key


class PreKeys:
    """Looks up PRE keys in a directory (and private keys in the environment)."""

    def __init__(self, keys_dir: Path) -> None:
        self._dir = keys_dir
        self._public: dict[str, tuple[tuple[int, int, int], ECKey]] = {}
        self._private: dict[str, tuple[tuple[Any, ...], KeySet]] = {}

    def public_key(self, tenant: str) -> ECKey:
        """The PRE's public key, parsed once per version of its file (re-read on rotation)."""
        path = self._dir / f"{tenant}.public.jwk.json"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise KeyNotFoundError(f"no public key for {tenant} in {self._dir}") from None
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._public.get(tenant)
        if cached is not None and cached[0] == signature:
            return cached[1]
        key = ECKey.import_key(json.loads(path.read_text()))
        self._public[tenant] = (signature, key)
        return key

    def private_keys(self, tenant: str) -> KeySet:
        """The PRE's current and previous private keys (unseal picks one by ``kid``).

        Parsed once per version of their source: the same environment value, or the same
        files (their names and each one's ``stat``), instead of reading and importing them
        for every referral opened.
        """
        raw = os.environ.get(_env_name(tenant))
        signature: tuple[Any, ...] = (
            ("env", raw) if raw is not None else ("files", *self._private_files(tenant))
        )
        cached = self._private.get(tenant)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if raw is not None:
            parsed = json.loads(raw)
            jwks = parsed.get("keys", [parsed])
        else:
            jwks = [json.loads(Path(path).read_text()) for path, *_ in signature[1:]]
        if not jwks:
            raise KeyNotFoundError(f"no private key for {tenant}")
        keys = KeySet([ECKey.import_key(k) for k in jwks])
        self._private[tenant] = (signature, keys)
        return keys

    def _private_files(self, tenant: str) -> list[tuple[str, int, int, int]]:
        """Path and (mtime, size, inode) of each private key file of ``tenant``, sorted."""
        files = []
        for path in sorted(self._dir.glob(f"{tenant}.private*.jwk.json")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # removed since the listing
            files.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
        return files

    def public_jwks(self) -> dict[str, Any]:
        keys = [json.loads(p.read_text()) for p in sorted(self._dir.glob("*.public.jwk.json"))]
        return {"keys": keys}


def seal(payload: dict[str, Any], public_key: ECKey) -> str:
    header = {"alg": ALG, "enc": ENC, "cty": "application/json"}
    if public_key.kid:
        header["kid"] = public_key.kid
    return jwe.encrypt_compact(header, json.dumps(payload).encode(), public_key)


def unseal(token: str, private_key: ECKey | KeySet) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(jwe.decrypt_compact(token, private_key).plaintext or b"")
    return result
