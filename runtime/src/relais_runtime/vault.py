"""Identity at rest: one random data key per subject (child), wrapped by a master key.

Deleting a subject's wrapped key makes everything stored under it unreadable
(crypto-erasure), old row versions and backups included. AES-256-GCM; the subject id is
bound as associated data so a ciphertext cannot be moved to another child. parcours
(one master key for the service) and referral (its PRE's store keys as masters) use it.

Rotation: a vault knows its current master key and may know previous ones by key id
(``kid``); rows store the kid of the master that wrapped their data key, and
:meth:`SubjectVault.rewrap` moves a data key under the current master without touching
what the data key encrypts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relais_runtime.logging import get_logger

log = get_logger(__name__)

_NONCE = 12


class IdentityUnreadableError(Exception):
    """The subject's key is gone (erased) or the ciphertext does not match it."""


def master_kid_of(master_key: bytes) -> str:
    """A name for a master key that does not reveal it: a hash prefix."""
    return hashlib.sha256(master_key).hexdigest()[:16]


def load_master_key(keys_dir: Path, env_value: str | None, *, create: bool, filename: str) -> bytes:
    """The master key from the environment (base64url) or ``<keys_dir>/<filename>``.

    With ``create``, a missing file is created once (O_EXCL: replicas sharing a volume
    cannot race into two keys); production mounts the key and disables creation.
    """
    if env_value:
        key = base64.urlsafe_b64decode(env_value.strip() + "==")
    else:
        path = keys_dir / filename
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no master key at {path}")
            keys_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
                log.warning("master_key_created", path=str(path))
        key = base64.urlsafe_b64decode(path.read_text().strip() + "==")
    if len(key) != 32:
        raise ValueError("a master key must be 32 bytes (base64url)")
    return key


class SubjectVault:
    def __init__(
        self,
        master_key: bytes,
        *,
        kid: str | None = None,
        previous: Mapping[str, bytes] | None = None,
    ) -> None:
        self._master = AESGCM(master_key)
        #: Names the current master key; stored beside each wrapped key it makes.
        self.master_kid = kid or master_kid_of(master_key)
        self._masters = {k: AESGCM(v) for k, v in (previous or {}).items()}
        self._masters[self.master_kid] = self._master

    def _master_named(self, master_kid: str | None) -> AESGCM:
        if master_kid is None:
            return self._master
        try:
            return self._masters[master_kid]
        except KeyError:
            raise IdentityUnreadableError(f"no master key {master_kid}") from None

    def new_data_key(self, subject_id: uuid.UUID) -> bytes:
        """A fresh data key, returned wrapped by the current master (only that is stored)."""
        return self._seal(self._master, os.urandom(32), subject_id)

    def encrypt(
        self,
        wrapped_key: bytes,
        subject_id: uuid.UUID,
        payload: dict[str, Any],
        *,
        master_kid: str | None = None,
    ) -> bytes:
        data_key = AESGCM(self._open(self._master_named(master_kid), wrapped_key, subject_id))
        return self._seal(data_key, json.dumps(payload).encode(), subject_id)

    def decrypt(
        self,
        wrapped_key: bytes,
        subject_id: uuid.UUID,
        blob: bytes,
        *,
        master_kid: str | None = None,
    ) -> dict[str, Any]:
        data_key = AESGCM(self._open(self._master_named(master_kid), wrapped_key, subject_id))
        result: dict[str, Any] = json.loads(self._open(data_key, blob, subject_id))
        return result

    def rewrap(self, wrapped_key: bytes, subject_id: uuid.UUID, master_kid: str) -> bytes:
        """The same data key, wrapped by the current master instead of ``master_kid``."""
        raw = self._open(self._master_named(master_kid), wrapped_key, subject_id)
        return self._seal(self._master, raw, subject_id)

    @staticmethod
    def _seal(aead: AESGCM, plaintext: bytes, subject_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + aead.encrypt(nonce, plaintext, subject_id.bytes)

    @staticmethod
    def _open(aead: AESGCM, blob: bytes, subject_id: uuid.UUID) -> bytes:
        try:
            return aead.decrypt(blob[:_NONCE], blob[_NONCE:], subject_id.bytes)
        except Exception as exc:  # InvalidTag, short blob
            raise IdentityUnreadableError(type(exc).__name__) from None
