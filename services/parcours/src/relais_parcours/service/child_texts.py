"""What people write about a child, kept under the child's own key (crypto-erasure).

A review note or a caseload override reason names the child's situation in words; stored
in clear it survived the erasure (issue 15). Encrypted with the child's data key
(``adapters/vault.py``), it is gone, old row versions and backups included, when the
erasure deletes the key. Reads give ``None`` once the key is gone.
"""

from __future__ import annotations

import uuid

from relais_parcours.adapters import repository
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_runtime.db import Conn


async def child_key(conn: Conn, ctx: Parcours, pre_id: str, subject_id: uuid.UUID) -> bytes:
    """The child's wrapped data key, created on first use."""
    wrapped = await repository.subject_key(conn, pre_id, subject_id)
    if wrapped is None:
        wrapped = ctx.vault.new_data_key(subject_id)
        await repository.insert_subject_key(conn, pre_id, subject_id, wrapped, ctx.vault.master_kid)
    return wrapped


async def seal(
    conn: Conn, ctx: Parcours, pre_id: str, subject_id: uuid.UUID, text: str | None
) -> bytes | None:
    if text is None:
        return None
    wrapped = await child_key(conn, ctx, pre_id, subject_id)
    return ctx.vault.encrypt(wrapped, subject_id, {"text": text})


def unseal(
    ctx: Parcours, wrapped_key: bytes | None, subject_id: uuid.UUID, blob: bytes | None
) -> str | None:
    if blob is None or wrapped_key is None:
        return None
    try:
        text: str = ctx.vault.decrypt(wrapped_key, subject_id, blob)["text"]
    except IdentityUnreadableError:
        return None
    return text
