"""SQL of the family's door: letters, preferences, requests, the PRE's contact.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget. The sweeps (``letter_pre``, ``claim_notices_to_mail``,
``consents_expiring``) run across PREs as the sweep role, and say so.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn


async def insert_letter(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO family_letters (id, pre_id, situation_id, guardian_index, link_hash, "
        "code_hash, created_by, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        values["id"],
        values["pre_id"],
        values["situation_id"],
        values["guardian_index"],
        values["link_hash"],
        values["code_hash"],
        values["created_by"],
        values["created_at"],
        values["expires_at"],
    )


async def letter_tenant(conn: Conn, link_hash: bytes) -> str | None:
    """The PRE of the letter with this link (run across PREs: the sweep role)."""
    tenant: str | None = await conn.fetchval(
        "SELECT pre_id FROM family_letters WHERE link_hash = $1", link_hash
    )
    return tenant


async def letter_by_link(conn: Conn, tenant: str, link_hash: bytes) -> asyncpg.Record | None:
    """The letter for a link, locked: concurrent tries of one letter are serialised."""
    return await conn.fetchrow(
        "SELECT l.*, s.stage FROM family_letters l "
        "JOIN situations s ON s.pre_id = l.pre_id AND s.id = l.situation_id "
        "WHERE l.pre_id = $1 AND l.link_hash = $2 FOR UPDATE OF l",
        tenant,
        link_hash,
    )


async def get_letter(conn: Conn, tenant: str, letter_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM family_letters WHERE pre_id = $1 AND id = $2", tenant, letter_id
    )


async def list_letters(conn: Conn, tenant: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, guardian_index, created_by, created_at, expires_at, failed_attempts, "
        "used_at, revoked_at, revoked_by FROM family_letters "
        "WHERE pre_id = $1 AND situation_id = $2 ORDER BY created_at",
        tenant,
        situation_id,
    )


async def count_failed_attempt(conn: Conn, tenant: str, letter_id: uuid.UUID) -> int:
    attempts: int = await conn.fetchval(
        "UPDATE family_letters SET failed_attempts = failed_attempts + 1 "
        "WHERE pre_id = $1 AND id = $2 RETURNING failed_attempts",
        tenant,
        letter_id,
    )
    return attempts


async def revoke_letter(
    conn: Conn, tenant: str, letter_id: uuid.UUID, now: datetime, by: str
) -> None:
    await conn.execute(
        "UPDATE family_letters SET revoked_at = $2, revoked_by = $3 "
        "WHERE pre_id = $4 AND id = $1 AND revoked_at IS NULL",
        letter_id,
        now,
        by,
        tenant,
    )


async def revoke_guardian_letters(
    conn: Conn, tenant: str, situation_id: uuid.UUID, guardian_index: int, now: datetime, by: str
) -> None:
    """A new letter replaces the guardian's previous ones (and the sessions they opened)."""
    await conn.execute(
        "UPDATE family_letters SET revoked_at = $3, revoked_by = $4 "
        "WHERE pre_id = $5 AND situation_id = $1 AND guardian_index = $2 "
        "AND revoked_at IS NULL",
        situation_id,
        guardian_index,
        now,
        by,
        tenant,
    )


async def mark_letter_used(conn: Conn, tenant: str, letter_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE family_letters SET used_at = $3 WHERE pre_id = $1 AND id = $2",
        tenant,
        letter_id,
        now,
    )


async def preferences(
    conn: Conn, tenant: str, situation_id: uuid.UUID, guardian_index: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT language, channel, updated_at FROM family_preferences "
        "WHERE pre_id = $3 AND situation_id = $1 AND guardian_index = $2",
        situation_id,
        guardian_index,
        tenant,
    )


async def upsert_preferences(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO family_preferences (situation_id, guardian_index, pre_id, language, "
        "channel, updated_at) VALUES ($1,$2,$3,$4,$5,$6) "
        "ON CONFLICT (situation_id, guardian_index) DO UPDATE SET "
        "language = EXCLUDED.language, channel = EXCLUDED.channel, "
        "updated_at = EXCLUDED.updated_at WHERE family_preferences.pre_id = EXCLUDED.pre_id",
        values["situation_id"],
        values["guardian_index"],
        values["pre_id"],
        values["language"],
        values["channel"],
        values["updated_at"],
    )


async def insert_request(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO family_requests (id, pre_id, situation_id, guardian_index, kind, "
        "details_enc, status, made_at, due_on) VALUES ($1,$2,$3,$4,$5,$6,'open',$7,$8)",
        values["id"],
        values["pre_id"],
        values["situation_id"],
        values["guardian_index"],
        values["kind"],
        values["details_enc"],
        values["made_at"],
        values["due_on"],
    )
    await conn.execute(
        "INSERT INTO deadlines (id, pre_id, situation_id, kind, due_on, family_request_id) "
        "VALUES ($1, $2, $3, 'family_request', $4, $5)",
        uuid.uuid4(),
        values["pre_id"],
        values["situation_id"],
        values["due_on"],
        values["id"],
    )


async def requests_of(
    conn: Conn, tenant: str, situation_id: uuid.UUID, guardian_index: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, kind, details, details_enc, status, made_at, due_on, answered_at, answer, "
        "answer_enc FROM family_requests "
        "WHERE pre_id = $3 AND situation_id = $1 AND guardian_index = $2 "
        "ORDER BY made_at",
        situation_id,
        guardian_index,
        tenant,
    )


async def list_requests(
    conn: Conn, tenant: str, status: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT f.id, f.situation_id, f.guardian_index, f.kind, f.details, f.details_enc, "
        "f.status, f.made_at, f.due_on, f.answered_at, f.answered_by, f.answer, f.answer_enc, "
        "s.subject_id FROM family_requests f JOIN situations s ON s.id = f.situation_id "
        "WHERE f.pre_id = $1 AND ($2::text IS NULL OR f.status = $2) "
        "ORDER BY f.status = 'answered', f.due_on, f.made_at LIMIT $3 OFFSET $4",
        tenant,
        status,
        limit,
        offset,
    )


async def get_request(conn: Conn, tenant: str, request_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT f.*, s.subject_id FROM family_requests f JOIN situations s "
        "ON s.id = f.situation_id WHERE f.pre_id = $1 AND f.id = $2 FOR UPDATE OF f",
        tenant,
        request_id,
    )


async def answer_request(
    conn: Conn, tenant: str, request_id: uuid.UUID, answer_enc: bytes, by: str, now: datetime
) -> None:
    """The coordinator's answer, sealed under the child's key."""
    await conn.execute(
        "UPDATE family_requests SET status = 'answered', answer_enc = $2, answered_by = $3, "
        "answered_at = $4 WHERE pre_id = $5 AND id = $1",
        request_id,
        answer_enc,
        by,
        now,
        tenant,
    )
    await conn.execute(
        "UPDATE deadlines SET resolved_at = $2 WHERE pre_id = $3 AND family_request_id = $1 "
        "AND resolved_at IS NULL",
        request_id,
        now,
        tenant,
    )


async def family_contact(conn: Conn, tenant: str) -> dict[str, Any] | None:
    contact: dict[str, Any] | None = await conn.fetchval(
        "SELECT family_contact FROM pre_settings WHERE pre_id = $1", tenant
    )
    return contact


async def set_family_contact(conn: Conn, tenant: str, contact: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO pre_settings (pre_id, family_contact) VALUES ($1, $2) "
        "ON CONFLICT (pre_id) DO UPDATE SET family_contact = EXCLUDED.family_contact",
        tenant,
        contact,
    )


async def erase_family_texts(
    conn: Conn, tenant: str, situation_id: uuid.UUID, now: datetime
) -> None:
    """On erasure: the family's words go, and no letter opens anything any more."""
    await conn.execute(
        "UPDATE family_requests SET details = NULL, answer = NULL, details_enc = NULL, "
        "answer_enc = NULL "
        "WHERE pre_id = $1 AND situation_id = $2",
        tenant,
        situation_id,
    )
    await conn.execute(
        "UPDATE family_letters SET revoked_at = $3, revoked_by = 'erasure' "
        "WHERE pre_id = $1 AND situation_id = $2 AND revoked_at IS NULL",
        tenant,
        situation_id,
        now,
    )


async def active_consent_read(
    conn: Conn, tenant: str, situation_id: uuid.UUID
) -> asyncpg.Record | None:
    """The consent in force, for a read (no lock)."""
    return await conn.fetchrow(
        "SELECT * FROM consents WHERE pre_id = $1 AND situation_id = $2 AND status = 'active'",
        tenant,
        situation_id,
    )


async def insert_notice(conn: Conn, values: dict[str, Any]) -> bool:
    """False when this guardian was already told of this cause."""
    inserted = await conn.fetchval(
        "INSERT INTO family_notices (id, pre_id, situation_id, guardian_index, kind, "
        "dedupe_key, facts, channel, language, created_at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING RETURNING true",
        values["id"],
        values["pre_id"],
        values["situation_id"],
        values["guardian_index"],
        values["kind"],
        values["dedupe_key"],
        values["facts"],
        values["channel"],
        values["language"],
        values["created_at"],
    )
    return bool(inserted)


async def notices_of(
    conn: Conn, tenant: str, situation_id: uuid.UUID, guardian_index: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, kind, facts, language, channel, created_at, sent_at FROM family_notices "
        "WHERE pre_id = $3 AND situation_id = $1 AND guardian_index = $2 "
        "ORDER BY created_at DESC LIMIT 50",
        situation_id,
        guardian_index,
        tenant,
    )


async def pending_notices(
    conn: Conn, tenant: str, referent_id: uuid.UUID | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    """Notices still to send, the référent's own situations only when one is given."""
    return await conn.fetch(
        "SELECT n.id, n.situation_id, n.guardian_index, n.kind, n.facts, n.channel, "
        "n.language, n.created_at, n.attempts, n.last_failure FROM family_notices n "
        "JOIN situations s ON s.pre_id = n.pre_id AND s.id = n.situation_id "
        "WHERE n.pre_id = $1 AND n.sent_at IS NULL "
        "AND ($2::uuid IS NULL OR s.referent_id = $2) "
        "ORDER BY n.created_at LIMIT $3 OFFSET $4",
        tenant,
        referent_id,
        limit,
        offset,
    )


async def mark_notice_sent(
    conn: Conn, tenant: str, notice_id: uuid.UUID, by: str, now: datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE family_notices SET sent_at = $4, sent_by = $3 "
        "WHERE pre_id = $1 AND id = $2 AND sent_at IS NULL RETURNING situation_id",
        tenant,
        notice_id,
        by,
        now,
    )


async def get_notice(conn: Conn, tenant: str, notice_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, situation_id, guardian_index, kind, facts, channel, language, created_at, "
        "sent_at FROM family_notices WHERE pre_id = $1 AND id = $2",
        tenant,
        notice_id,
    )


async def claim_notices_to_mail(
    conn: Conn, now: datetime, lease_until: datetime, max_attempts: int, limit: int
) -> list[asyncpg.Record]:
    """E-mail notices due a try, leased (next try pushed to ``lease_until``) so that no
    other replica takes them while this one sends; every PRE's (the scheduler's job)."""
    return await conn.fetch(
        "UPDATE family_notices n SET next_attempt_at = $2 FROM ("
        "  SELECT id FROM family_notices WHERE sent_at IS NULL AND channel = 'email' "
        "  AND attempts < $3 AND (next_attempt_at IS NULL OR next_attempt_at <= $1) "
        "  ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED) due "
        "WHERE n.id = due.id RETURNING n.id, n.pre_id, n.situation_id, n.guardian_index, "
        "n.kind, n.facts, n.language, n.attempts",
        now,
        lease_until,
        max_attempts,
        limit,
    )


async def notice_mailed(conn: Conn, tenant: str, notice_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE family_notices SET sent_at = $2, sent_by = 'auto:email', "
        "attempts = attempts + 1, last_failure = NULL "
        "WHERE pre_id = $3 AND id = $1 AND sent_at IS NULL",
        notice_id,
        now,
        tenant,
    )


async def notice_mail_failed(
    conn: Conn,
    tenant: str,
    notice_id: uuid.UUID,
    failure: str,
    attempts: int,
    next_attempt_at: datetime | None,
) -> None:
    """A failed try; once ``attempts`` reaches the limit the notice is the référent's."""
    await conn.execute(
        "UPDATE family_notices SET attempts = $3, last_failure = $2, next_attempt_at = $4 "
        "WHERE pre_id = $5 AND id = $1 AND sent_at IS NULL",
        notice_id,
        failure,
        attempts,
        next_attempt_at,
        tenant,
    )


async def consents_expiring(conn: Conn, today: date, until: date) -> list[asyncpg.Record]:
    """Consents in force whose last day falls in [today, until], every PRE's (a sweep: the
    sweep role only)."""
    return await conn.fetch(
        "SELECT c.id AS consent_id, c.valid_until, s.id, s.pre_id, s.subject_id "
        "FROM consents c JOIN situations s "
        "ON s.pre_id = c.pre_id AND s.id = c.situation_id WHERE c.status = 'active' "
        "AND c.valid_until BETWEEN $1 AND $2",
        today,
        until,
    )
