"""Identity at rest: one random data key per subject, wrapped by the service master key.

Deleting the wrapped key of a subject makes every identity stored for it unreadable
(crypto-erasure), even in backups. AES-256-GCM; the subject id is bound as associated
data so a ciphertext cannot be moved to another child.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relais_runtime.logging import get_logger

log = get_logger(__name__)

MASTER_KEY_FILENAME = "parcours-master.key"
_NONCE = 12


class IdentityUnreadableError(Exception):
    """The subject's key is gone (erased) or the ciphertext does not match it."""


def load_master_key(keys_dir: Path, env_value: str | None, *, create: bool) -> bytes:
    """The master key from the environment (base64url) or ``<keys_dir>/parcours-master.key``.

    With ``create``, a missing file is created once (O_EXCL: replicas sharing a volume
    cannot race into two keys); production mounts the key and disables creation.
    """
    if env_value:
        key = base64.urlsafe_b64decode(env_value.strip() + "==")
    else:
        path = keys_dir / MASTER_KEY_FILENAME
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no parcours master key at {path}")
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
        raise ValueError("the parcours master key must be 32 bytes (base64url)")
    return key


class IdentityVault:
    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)
        #: Names the master key (rotation): a hash prefix, not the key.
        self.master_kid = hashlib.sha256(master_key).hexdigest()[:16]

    def new_data_key(self, subject_id: uuid.UUID) -> bytes:
        """A fresh data key, returned wrapped (only the wrapped form is stored)."""
        return self._seal(self._master, os.urandom(32), subject_id)

    def encrypt(self, wrapped_key: bytes, subject_id: uuid.UUID, payload: dict[str, Any]) -> bytes:
        data_key = AESGCM(self._open(self._master, wrapped_key, subject_id))
        return self._seal(data_key, json.dumps(payload).encode(), subject_id)

    def decrypt(self, wrapped_key: bytes, subject_id: uuid.UUID, blob: bytes) -> dict[str, Any]:
        data_key = AESGCM(self._open(self._master, wrapped_key, subject_id))
        result: dict[str, Any] = json.loads(self._open(data_key, blob, subject_id))
        return result

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
