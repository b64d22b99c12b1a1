"""The fiche at rest, under a data key of the child's own (per-child crypto-erasure).

A child (``subject_id``) gets one random data key, stored only wrapped by its PRE's
newest store key (``subject_keys``, ``relais_runtime.vault``). Every fiche of the child
is AES-GCM under that key, the subject id bound as associated data and the referral id
inside the plaintext (a row's fiche cannot be swapped for another's unnoticed). The
erasure deletes the wrapped key: what any copy of the database still holds of the child
can no longer be opened with the keys that remain.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from relais_referral.adapters.keys import ReferralKeys, UnreadableError
from relais_runtime.db import Conn
from relais_runtime.logging import get_logger
from relais_runtime.sealing import KeyNotFoundError
from relais_runtime.vault import IdentityUnreadableError

log = get_logger(__name__)

Row = Mapping[str, Any] | asyncpg.Record


async def child_key(
    conn: Conn, keys: ReferralKeys, tenant: str, subject_id: uuid.UUID, *, new: bool = False
) -> tuple[bytes, str]:
    """The child's wrapped data key and the store key that wrapped it; made on first use.

    Two submissions for a new child at once: both insert, one wins (the primary key),
    the other reads the winner's key. ``new``: the subject was created in this
    transaction, so it has no key yet: no look first (one round trip less).
    """
    select = (
        "SELECT wrapped_key, master_kid FROM subject_keys WHERE pre_id = $1 AND subject_id = $2"
    )
    if not new:
        row = await conn.fetchrow(select, tenant, subject_id)
        if row is not None:
            return row["wrapped_key"], row["master_kid"]
    vault = keys.vault(tenant)
    wrapped = vault.new_data_key(subject_id)
    inserted = await conn.fetchval(
        "INSERT INTO subject_keys (pre_id, subject_id, wrapped_key, master_kid) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
        tenant,
        subject_id,
        wrapped,
        vault.master_kid,
    )
    if inserted:
        return wrapped, vault.master_kid
    row = await conn.fetchrow(select, tenant, subject_id)
    assert row is not None  # the concurrent insert committed (ON CONFLICT waited for it)
    return row["wrapped_key"], row["master_kid"]


async def seal_fiche(
    conn: Conn,
    keys: ReferralKeys,
    *,
    tenant: str,
    subject_id: uuid.UUID,
    referral_id: uuid.UUID,
    content: dict[str, Any],
    new_child: bool = False,
    key: tuple[bytes, str] | None = None,
) -> bytes:
    """The fiche encrypted under the child's key (the key is made if the child is new;
    ``new_child``: its subject was created in this transaction; ``key``: the child's
    wrapped key and its master's kid, already read or made in this transaction)."""
    wrapped, master_kid = key or await child_key(conn, keys, tenant, subject_id, new=new_child)
    payload = {"referral_id": str(referral_id), "content": content}
    return keys.vault(tenant).encrypt(wrapped, subject_id, payload, master_kid=master_kid)


def open_fiche(keys: ReferralKeys, tenant: str, row: Row) -> dict[str, Any] | None:
    """The fiche of a row read with ``FICHE_COLUMNS``; None once erased.

    Raises :class:`UnreadableError` (or ``KeyNotFoundError``) when it is there but does
    not open, or belongs to another referral.
    """
    if row["fiche"] is not None and row["wrapped_key"] is not None:
        try:
            stored = keys.vault(tenant).decrypt(
                row["wrapped_key"], row["subject_id"], row["fiche"], master_kid=row["master_kid"]
            )
        except IdentityUnreadableError as exc:
            raise UnreadableError(str(exc)) from None
    elif row["identity"] is not None:  # not moved under the child's key yet
        stored = keys.decrypt(tenant, row["identity"])
    else:
        return None
    if stored.get("referral_id") != str(row["id"]):
        raise UnreadableError("the fiche belongs to another referral")
    content: dict[str, Any] = stored["content"]
    return content


#: Columns ``open_fiche`` needs, for a query over ``referrals r LEFT JOIN subject_keys k``.
FICHE_COLUMNS = "r.id, r.subject_id, r.fiche, r.identity, k.wrapped_key, k.master_kid"
FICHE_JOIN = "LEFT JOIN subject_keys k ON k.pre_id = r.pre_id AND k.subject_id = r.subject_id"


async def erase_child(conn: Conn, tenant: str, subject_id: uuid.UUID) -> None:
    """Forget who the child is: its key (crypto-erasure), its fiches, its blind index."""
    # The referrals first: their row locks wait for a start-up move in progress, so the
    # key it may have just made is committed, and deleted, by the next statement.
    await conn.execute(
        "UPDATE referrals SET fiche = NULL, identity = NULL WHERE pre_id = $1 AND subject_id = $2",
        tenant,
        subject_id,
    )
    await conn.execute(
        "DELETE FROM subject_keys WHERE pre_id = $1 AND subject_id = $2", tenant, subject_id
    )
    await conn.execute(
        "DELETE FROM subjects WHERE pre_id = $1 AND subject_id = $2", tenant, subject_id
    )


async def move_under_child_keys(pool: asyncpg.Pool, keys: ReferralKeys, *, batch: int = 200) -> int:
    """Re-encrypt fiches stored under a PRE's store key (before migration 0005) under their
    child's key; the number moved. Restart-safe: a moved row leaves the partial index, and
    rows are taken ``FOR UPDATE SKIP LOCKED`` so replicas share the work. A row that does
    not open is logged and left (its PRE's keys are missing or it was tampered with)."""
    moved = 0
    after = uuid.UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, pre_id, subject_id, identity FROM referrals "
                "WHERE identity IS NOT NULL AND id > $1 ORDER BY id LIMIT $2 "
                "FOR UPDATE SKIP LOCKED",
                after,
                batch,
            )
            for row in rows:
                after = row["id"]
                try:
                    stored = keys.decrypt(row["pre_id"], row["identity"])
                    if stored.get("referral_id") != str(row["id"]):
                        raise UnreadableError("the fiche belongs to another referral")
                    fiche = await seal_fiche(
                        conn,
                        keys,
                        tenant=row["pre_id"],
                        subject_id=row["subject_id"],
                        referral_id=row["id"],
                        content=stored["content"],
                    )
                except (UnreadableError, KeyNotFoundError) as exc:
                    log.error("fiche_not_moved", referral_id=str(row["id"]), error=str(exc))
                    continue
                await conn.execute(
                    "UPDATE referrals SET fiche = $2, identity = NULL WHERE id = $1",
                    row["id"],
                    fiche,
                )
                moved += 1
        if len(rows) < batch:
            break
    if moved:
        log.info("fiches_moved_under_child_keys", count=moved)
    return moved
