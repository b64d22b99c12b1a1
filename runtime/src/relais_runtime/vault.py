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


def _previous_paths(keys_dir: Path, filename: str) -> list[Path]:
    stem, dot, suffix = filename.rpartition(".")
    return sorted(keys_dir.glob(f"{stem}.*.{suffix}")) if dot else []


def load_previous_master_keys(keys_dir: Path, filename: str) -> dict[str, bytes]:
    """Master keys a rotation replaced and has not destroyed yet (``<stem>.<kid>.<ext>``
    beside the current file), by kid."""
    keys = {}
    for path in _previous_paths(keys_dir, filename):
        key = base64.urlsafe_b64decode(path.read_text().strip() + "==")
        keys[master_kid_of(key)] = key
    return keys


def rotate_master_key_file(keys_dir: Path, filename: str) -> tuple[str, str]:
    """A new master key in ``<keys_dir>/<filename>``; the current one is kept beside it as
    ``<stem>.<kid>.<ext>`` until :func:`destroy_previous_master_keys`. (old kid, new kid)."""
    path = keys_dir / filename
    old = load_master_key(keys_dir, None, create=False, filename=filename)
    stem, _dot, suffix = filename.rpartition(".")
    old_kid = master_kid_of(old)
    aside = keys_dir / f"{stem}.{old_kid}.{suffix}"
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.urlsafe_b64encode(old).decode())
    new = os.urandom(32)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.urlsafe_b64encode(new).decode())
    os.replace(tmp, path)
    return old_kid, master_kid_of(new)


def destroy_previous_master_keys(keys_dir: Path, filename: str) -> list[str]:
    """Delete the master keys a rotation replaced; their kids."""
    gone = []
    for path in _previous_paths(keys_dir, filename):
        key = base64.urlsafe_b64decode(path.read_text().strip() + "==")
        path.unlink()
        gone.append(master_kid_of(key))
    return gone


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

    @property
    def previous_kids(self) -> list[str]:
        return [k for k in self._masters if k != self.master_kid]

    def _unwrap(self, wrapped_key: bytes, subject_id: uuid.UUID, master_kid: str | None) -> bytes:
        """The raw data key. Without ``master_kid``, each master is tried, the current one
        first (after a rotation, until every row is re-wrapped, some are under the old)."""
        if master_kid is not None:
            aead = self._masters.get(master_kid)
            if aead is None:
                raise IdentityUnreadableError(f"no master key {master_kid}")
            return self._open(aead, wrapped_key, subject_id)
        for aead in (self._master, *(a for k, a in self._masters.items() if k != self.master_kid)):
            try:
                return self._open(aead, wrapped_key, subject_id)
            except IdentityUnreadableError:
                continue
        raise IdentityUnreadableError("no master key opens this data key")

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
        data_key = AESGCM(self._unwrap(wrapped_key, subject_id, master_kid))
        return self._seal(data_key, json.dumps(payload).encode(), subject_id)

    def decrypt(
        self,
        wrapped_key: bytes,
        subject_id: uuid.UUID,
        blob: bytes,
        *,
        master_kid: str | None = None,
    ) -> dict[str, Any]:
        data_key = AESGCM(self._unwrap(wrapped_key, subject_id, master_kid))
        result: dict[str, Any] = json.loads(self._open(data_key, blob, subject_id))
        return result

    def rewrap(self, wrapped_key: bytes, subject_id: uuid.UUID, master_kid: str) -> bytes:
        """The same data key, wrapped by the current master instead of ``master_kid``."""
        raw = self._unwrap(wrapped_key, subject_id, master_kid)
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
