"""What people write about a child, kept under the child's own key (crypto-erasure).

A review note, a caseload override reason or a référent's message to a partner names the
child's situation in words; stored in clear it survived the erasure (issue 15). Encrypted
with the child's data key (``adapters/vault.py``), it is gone, old row versions and
backups included, when the erasure deletes the key. Reads give ``None`` once the key is gone.
"""

from __future__ import annotations

import uuid

from relais_parcours.adapters import situations_repo
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_parcours.service import tenancy
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime


async def child_key(conn: Conn, ctx: Parcours, pre_id: str, subject_id: uuid.UUID) -> bytes:
    """The child's wrapped data key, created on first use."""
    wrapped = await situations_repo.subject_key(conn, pre_id, subject_id)
    if wrapped is None:
        wrapped = ctx.vault.new_data_key(subject_id)
        await situations_repo.insert_subject_key(
            conn, pre_id, subject_id, wrapped, ctx.vault.master_kid
        )
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


# Rows written before migrations 0017 and 0021 hold the text in clear: (table, clear,
# encrypted).
_CLEAR_COLUMNS = (
    ("review_decisions", "note", "note_enc"),
    ("referent_assignments", "override_reason", "override_reason_enc"),
    ("handovers", "message", "message_enc"),  # before 0021
)


async def seal_clear_texts(runtime: ServiceRuntime, ctx: Parcours, batch: int = 200) -> int:
    """Move up to ``batch`` clear texts of each table under their child's key; how many."""
    moved = 0
    async with tenancy.sweep(runtime, ctx) as conn:
        for table, clear, sealed in _CLEAR_COLUMNS:
            # Children erased before the erasure cleared these: clear them now, no new key.
            await conn.execute(
                f"UPDATE {table} t SET {clear} = NULL FROM situations s "  # noqa: S608 - constant names
                f"WHERE s.id = t.situation_id AND s.erased_at IS NOT NULL "
                f"AND t.{clear} IS NOT NULL"
            )
            rows = await conn.fetch(
                f"SELECT t.id, t.{clear} AS text, s.pre_id, s.subject_id FROM {table} t "  # noqa: S608 - constant names
                f"JOIN situations s ON s.id = t.situation_id "
                f"WHERE t.{clear} IS NOT NULL AND t.{sealed} IS NULL AND s.erased_at IS NULL "
                f"LIMIT $1 FOR UPDATE OF t SKIP LOCKED",
                batch,
            )
            for row in rows:
                blob = await seal(conn, ctx, row["pre_id"], row["subject_id"], row["text"])
                await conn.execute(
                    f"UPDATE {table} SET {sealed} = $2, {clear} = NULL WHERE id = $1",  # noqa: S608
                    row["id"],
                    blob,
                )
            moved += len(rows)
    return moved
