"""SQL for referrals, subjects and institutions. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from relais_contracts.envelope import CloudEvent
from relais_contracts.types import ReferralStatus
from relais_referral.adapters import fiches
from relais_referral.adapters.fiches import FICHE_COLUMNS, FICHE_JOIN
from relais_referral.domain.timeline import StatusChange
from relais_runtime import outbox
from relais_runtime.db import Conn, outbox_written

# -- institutions --------------------------------------------------------------------------


async def get_institution(conn: Conn, tenant: str, institution_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM institutions WHERE pre_id = $1 AND id = $2", tenant, institution_id
    )


async def institution_tenant(conn: Conn, institution_id: str) -> str | None:
    """The PRE an institution is registered with (an institution id names one PRE)."""
    tenant: str | None = await conn.fetchval(
        "SELECT pre_id FROM institutions WHERE id = $1", institution_id
    )
    return tenant


async def upsert_institution(conn: Conn, values: dict[str, Any]) -> asyncpg.Record | None:
    """Insert or update (``active`` is kept); None if the id belongs to another PRE."""
    return await conn.fetchrow(
        "INSERT INTO institutions (id, pre_id, name, category, uai, siret, contacts) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (id) DO UPDATE SET name = $3, category = $4, uai = $5, siret = $6, "
        "contacts = $7, updated_at = now() "
        "WHERE institutions.pre_id = $2 RETURNING *",
        values["id"],
        values["pre_id"],
        values["name"],
        values["category"],
        values.get("uai"),
        values.get("siret"),
        values.get("contacts", []),
    )


async def set_institution_contacts(
    conn: Conn, tenant: str, institution_id: str, contacts: list[dict[str, Any]]
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE institutions SET contacts = $3, updated_at = now() "
        "WHERE pre_id = $1 AND id = $2 RETURNING *",
        tenant,
        institution_id,
        contacts,
    )


async def set_institution_active(
    conn: Conn, tenant: str, institution_id: str, active: bool
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE institutions SET active = $3, updated_at = now() "
        "WHERE pre_id = $1 AND id = $2 RETURNING *",
        tenant,
        institution_id,
        active,
    )


async def list_institutions(
    conn: Conn, tenant: str, *, active: bool | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        "SELECT * FROM institutions WHERE pre_id = $1 "
        "AND ($2::boolean IS NULL OR active = $2) ORDER BY id LIMIT $3 OFFSET $4",
        tenant,
        active,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM institutions WHERE pre_id = $1 "
        "AND ($2::boolean IS NULL OR active = $2)",
        tenant,
        active,
    )
    return rows, int(total)


# -- subjects ---------------------------------------------------------------------------


async def find_or_create_subject(
    conn: Conn,
    tenant: str,
    blind_index: str,
    new_subject_id: uuid.UUID,
    *,
    index_kid: str = "",
    previous: Sequence[str] = (),
) -> tuple[uuid.UUID, bool]:
    """The child's subject id, and whether it was already known (a duplicate referral).

    ``previous``: the child's index under the keys a rotation is replacing; a subject
    still stored under one is found, and moved to the new index on the way.
    """
    if previous:
        moved = await conn.fetchval(
            "UPDATE subjects SET blind_index = $3, index_kid = $4 "
            "WHERE pre_id = $1 AND blind_index = ANY($2::text[]) RETURNING subject_id",
            tenant,
            list(previous),
            blind_index,
            index_kid,
        )
        if moved is not None:
            return moved, True
    created = await conn.fetchval(
        "INSERT INTO subjects (pre_id, blind_index, subject_id, index_kid) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING subject_id",
        tenant,
        blind_index,
        new_subject_id,
        index_kid,
    )
    if created is not None:
        return created, False
    existing = await conn.fetchval(
        "SELECT subject_id FROM subjects WHERE pre_id = $1 AND blind_index = $2",
        tenant,
        blind_index,
    )
    return existing, True


async def subject_with_key(
    conn: Conn,
    tenant: str,
    blind_index: str,
    new_subject_id: uuid.UUID,
    new_wrapped_key: bytes,
    master_kid: str,
    *,
    index_kid: str = "",
) -> tuple[uuid.UUID, bool, bytes, str] | None:
    """:func:`find_or_create_subject` and the child's wrapped data key in one round trip:
    ``(subject_id, known, wrapped_key, master_kid)``.

    A new child gets ``new_subject_id`` and ``new_wrapped_key`` (made beforehand for that
    id); a known one, its own subject and key. None when neither shows in this
    statement's snapshot (a submission for the same new child committed meanwhile, or a
    subject older than per-child keys): then :func:`find_or_create_subject` and
    ``fiches.child_key`` say, in statements of their own.
    """
    row = await conn.fetchrow(
        "WITH created AS ("
        "INSERT INTO subjects (pre_id, blind_index, subject_id, index_kid) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING subject_id), "
        # A new subject id (uuid4, made for this row) has no key yet: no conflict possible.
        "keyed AS (INSERT INTO subject_keys (pre_id, subject_id, wrapped_key, master_kid) "
        "SELECT $1, subject_id, $5, $6 FROM created RETURNING subject_id) "
        "SELECT subject_id, false AS known, $5 AS wrapped_key, $6 AS master_kid FROM keyed "
        # The statement's snapshot predates the insert: this part sees only a known child.
        "UNION ALL SELECT s.subject_id, true, k.wrapped_key, k.master_kid FROM subjects s "
        "JOIN subject_keys k ON k.pre_id = s.pre_id AND k.subject_id = s.subject_id "
        "WHERE s.pre_id = $1 AND s.blind_index = $2",
        tenant,
        blind_index,
        new_subject_id,
        index_kid,
        new_wrapped_key,
        master_kid,
    )
    if row is None:
        return None
    return row["subject_id"], row["known"], row["wrapped_key"], row["master_kid"]


# -- referrals ------------------------------------------------------------------------------


async def insert_referral(
    conn: Conn,
    *,
    referral_id: uuid.UUID,
    tenant: str,
    institution_id: str,
    subject_id: uuid.UUID,
    known_subject: bool,
    facts: dict[str, Any],
    fiche: bytes,
    channel: str,
    external_ref: str | None,
    submitted_at: datetime,
    events: Sequence[CloudEvent[Any]] = (),
) -> None:
    """The referral, the first step of its timeline and ``events`` (its outbox rows): one
    statement, one round trip."""
    sql = (
        "WITH referral AS ("
        "INSERT INTO referrals (id, pre_id, institution_id, subject_id, known_subject, status, "
        "version, facts, fiche, channel, external_ref, submitted_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $11) RETURNING id), "
        "timeline AS (INSERT INTO referral_timeline (referral_id, position, status, at) "
        "SELECT id, 1, $6, $11 FROM referral RETURNING referral_id) "
    )
    args: list[Any] = [
        referral_id,
        tenant,
        institution_id,
        subject_id,
        known_subject,
        ReferralStatus.RECEIVED.value,
        facts,
        fiche,
        channel,
        external_ref,
        submitted_at,
    ]
    if events:
        added, more = outbox.rows(events, first=len(args) + 1)
        await conn.execute(f"{sql}, {added} {outbox.END_ADDED}", *args, *more)
        outbox_written(conn)
    else:
        await conn.execute(f"{sql} SELECT count(*) FROM timeline", *args)  # noqa: S608


async def lock_referral(conn: Conn, tenant: str, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE pre_id = $1 AND id = $2 FOR UPDATE", tenant, referral_id
    )


async def append_status(
    conn: Conn, referral_id: uuid.UUID, version: int, change: StatusChange
) -> None:
    """Record a new status; ``version`` is the referral's new version (timeline position).

    The referral and its timeline in one statement (one round trip).
    """
    await conn.execute(
        "WITH moved AS ("
        "UPDATE referrals SET status = $2, version = $3, updated_at = $4 WHERE id = $1 "
        "RETURNING id) "
        "INSERT INTO referral_timeline (referral_id, position, status, reason, redirected_to, at) "
        "SELECT id, (SELECT coalesce(max(position), 0) + 1 FROM referral_timeline "
        "WHERE referral_id = $1), $2, $5, $6, $4 FROM moved",
        referral_id,
        change.status.value,
        version,
        change.at,
        change.reason,
        change.redirected_to,
    )


async def get_referral(conn: Conn, tenant: str, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {FICHE_COLUMNS}, r.pre_id, r.institution_id, r.known_subject, r.status, "  # noqa: S608 (fixed column list)
        f"r.submitted_at, r.updated_at, r.channel, r.external_ref FROM referrals r {FICHE_JOIN} "
        "WHERE r.pre_id = $1 AND r.id = $2",
        tenant,
        referral_id,
    )


async def list_referrals(
    conn: Conn,
    tenant: str,
    institution_id: str,
    *,
    statuses: list[str] | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        f"SELECT {FICHE_COLUMNS}, r.status, r.submitted_at, r.updated_at "  # noqa: S608 (fixed column list)
        f"FROM referrals r {FICHE_JOIN} WHERE r.pre_id = $1 AND r.institution_id = $2 "
        "AND ($3::text[] IS NULL OR r.status = ANY($3)) "
        "ORDER BY r.submitted_at DESC, r.id LIMIT $4 OFFSET $5",
        tenant,
        institution_id,
        statuses,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM referrals WHERE pre_id = $1 AND institution_id = $2 "
        "AND ($3::text[] IS NULL OR status = ANY($3))",
        tenant,
        institution_id,
        statuses,
    )
    return rows, int(total)


async def get_timeline(conn: Conn, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT status, reason, redirected_to, at FROM referral_timeline "
        "WHERE referral_id = $1 ORDER BY position",
        referral_id,
    )


async def erase_identity(conn: Conn, tenant: str, subject_id: uuid.UUID) -> None:
    """Forget who the child is: its key, its fiches and its blind index (``fiches``)."""
    await fiches.erase_child(conn, tenant, subject_id)
