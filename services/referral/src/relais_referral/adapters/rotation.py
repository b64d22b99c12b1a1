"""Re-encryption after a key rotation: children's data keys under the newest store key,
blind indexes under the newest index key (issue 15, item 4).

The new key is already first in the PRE's secrets file, so new data uses it at once; these
loops move what was written before, in short batches (``FOR UPDATE SKIP LOCKED``: the
service keeps serving, replicas and a second run share the work), and say how far they
are. The caller destroys the old keys once :func:`left` finds nothing under them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import asyncpg

from relais_referral.adapters import fiches
from relais_referral.adapters.keys import ReferralKeys, UnreadableError
from relais_referral.domain.identity import blind_index
from relais_runtime.logging import get_logger
from relais_runtime.sealing import KeyNotFoundError
from relais_runtime.vault import IdentityUnreadableError

log = get_logger(__name__)

#: Told after each batch: (done so far, total when the run started).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Left:
    """What still rests under an old key of a PRE."""

    child_keys: int  # data keys wrapped by an older store key
    legacy_fiches: int  # fiches under a store key itself (before migration 0005)
    indexes: int  # blind indexes computed with an older index key

    @property
    def store_done(self) -> bool:
        return self.child_keys == 0 and self.legacy_fiches == 0


async def left(pool: asyncpg.Pool, keys: ReferralKeys, tenant: str) -> Left:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM subject_keys WHERE pre_id = $1 AND master_kid <> $2) "
            "AS child_keys, (SELECT count(*) FROM referrals WHERE pre_id = $1 "
            "AND identity IS NOT NULL) AS legacy_fiches, (SELECT count(*) FROM subjects "
            "WHERE pre_id = $1 AND index_kid IS DISTINCT FROM $3) AS indexes",
            tenant,
            keys.vault(tenant).master_kid,
            keys.index_kid(tenant),
        )
    assert row is not None
    return Left(row["child_keys"], row["legacy_fiches"], row["indexes"])


async def rewrap_child_keys(
    pool: asyncpg.Pool,
    keys: ReferralKeys,
    tenant: str,
    *,
    batch: int = 500,
    progress: Progress | None = None,
) -> int:
    """Wrap every child's data key of the PRE by its newest store key; the number moved.

    Only the wrapping changes: the fiches stay as they are (their data key is the same).
    """
    vault = keys.vault(tenant)
    total = (await left(pool, keys, tenant)).child_keys
    done = 0
    after = uuid.UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT subject_id, wrapped_key, master_kid FROM subject_keys "
                "WHERE pre_id = $1 AND master_kid <> $2 AND subject_id > $3 "
                "ORDER BY subject_id LIMIT $4 FOR UPDATE SKIP LOCKED",
                tenant,
                vault.master_kid,
                after,
                batch,
            )
            moved = []
            for row in rows:
                after = row["subject_id"]
                try:
                    wrapped = vault.rewrap(row["wrapped_key"], row["subject_id"], row["master_kid"])
                except IdentityUnreadableError as exc:  # logged, left for the operator
                    log.error("child_key_not_rewrapped", subject_id=str(after), error=str(exc))
                    continue
                moved.append((row["subject_id"], wrapped))
            await conn.executemany(
                "UPDATE subject_keys SET wrapped_key = $3, master_kid = $4 "
                "WHERE pre_id = $1 AND subject_id = $2",
                [(tenant, subject, wrapped, vault.master_kid) for subject, wrapped in moved],
            )
        done += len(moved)
        if progress is not None and rows:
            progress(done, total)
        if len(rows) < batch:
            return done


async def reindex_subjects(
    pool: asyncpg.Pool,
    keys: ReferralKeys,
    tenant: str,
    *,
    batch: int = 500,
    progress: Progress | None = None,
) -> int:
    """Recompute each child's blind index with the newest index key; the number moved.

    The identity comes from the child's latest fiche (opened with its own key). A child
    whose fiche does not open is logged and left under the old key (the old key then
    cannot be destroyed: the operator decides).
    """
    index_key, index_kid = keys.index_key(tenant), keys.index_kid(tenant)
    total = (await left(pool, keys, tenant)).indexes
    done = 0
    after = uuid.UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT s.blind_index, r.* FROM subjects s "  # noqa: S608 (fixed join)
                "CROSS JOIN LATERAL (SELECT r.id, r.subject_id, r.fiche, r.identity, "
                "k.wrapped_key, k.master_kid FROM referrals r "
                f"{fiches.FICHE_JOIN} WHERE r.pre_id = s.pre_id AND r.subject_id = s.subject_id "
                "AND (r.fiche IS NOT NULL OR r.identity IS NOT NULL) "
                "ORDER BY r.submitted_at DESC LIMIT 1) r "
                "WHERE s.pre_id = $1 AND s.index_kid IS DISTINCT FROM $2 AND s.subject_id > $3 "
                "ORDER BY s.subject_id LIMIT $4 FOR UPDATE OF s SKIP LOCKED",
                tenant,
                index_kid,
                after,
                batch,
            )
            moved = []
            for row in rows:
                after = row["subject_id"]
                try:
                    content = fiches.open_fiche(keys, tenant, row)
                except (UnreadableError, KeyNotFoundError) as exc:
                    log.error("blind_index_not_moved", subject_id=str(after), error=str(exc))
                    continue
                if content is None:
                    continue
                child = content["child"]
                index = blind_index(
                    index_key,
                    child["first_name"],
                    child["last_name"],
                    date.fromisoformat(child["birth_date"]),
                )
                moved.append((row["blind_index"], index))
            await conn.executemany(
                "UPDATE subjects SET blind_index = $3, index_kid = $4 "
                "WHERE pre_id = $1 AND blind_index = $2",
                [(tenant, old, new, index_kid) for old, new in moved],
            )
        done += len(moved)
        if progress is not None and rows:
            progress(done, total)
        if len(rows) < batch:
            return done
