"""SQL for referrals and institutions. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_contracts.types import ReferralStatus
from relais_referral.domain.timeline import StatusChange
from relais_runtime.db import Conn


async def get_institution(conn: Conn, pre_id: str, institution_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM institutions WHERE pre_id = $1 AND id = $2", pre_id, institution_id
    )


async def upsert_institution(conn: Conn, values: dict[str, Any]) -> bool:
    """Insert or update; False if the id belongs to another PRE (ids are global)."""
    row = await conn.fetchrow(
        "INSERT INTO institutions (id, pre_id, name, category, uai, siret) "
        "VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (id) DO UPDATE SET name = $3, category = $4, uai = $5, siret = $6 "
        "WHERE institutions.pre_id = $2 RETURNING id",
        values["id"],
        values["pre_id"],
        values["name"],
        values["category"],
        values.get("uai"),
        values.get("siret"),
    )
    return row is not None


async def list_institutions(conn: Conn, pre_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM institutions WHERE pre_id = $1 ORDER BY id", pre_id)


async def insert_referral(
    conn: Conn,
    *,
    referral_id: uuid.UUID,
    pre_id: str,
    institution_id: str,
    subject_id: uuid.UUID,
    facts: dict[str, Any],
    sealed: str,
    submitted_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO referrals (id, pre_id, institution_id, subject_id, status, version, facts, "
        "sealed, submitted_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8)",
        referral_id,
        pre_id,
        institution_id,
        subject_id,
        ReferralStatus.RECEIVED.value,
        facts,
        sealed,
        submitted_at,
    )
    await conn.execute(
        "INSERT INTO referral_timeline (referral_id, position, status, at) VALUES ($1, 1, $2, $3)",
        referral_id,
        ReferralStatus.RECEIVED.value,
        submitted_at,
    )


async def lock_referral(conn: Conn, pre_id: str, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE pre_id = $1 AND id = $2 FOR UPDATE", pre_id, referral_id
    )


async def append_status(
    conn: Conn, referral_id: uuid.UUID, version: int, change: StatusChange
) -> None:
    """Record a new status; ``version`` is the referral's new version (timeline position)."""
    await conn.execute(
        "UPDATE referrals SET status = $2, version = $3, updated_at = $4 WHERE id = $1",
        referral_id,
        change.status.value,
        version,
        change.at,
    )
    await conn.execute(
        "INSERT INTO referral_timeline (referral_id, position, status, reason, redirected_to, at) "
        "VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM referral_timeline "
        "WHERE referral_id = $1), $2, $3, $4, $5)",
        referral_id,
        change.status.value,
        change.reason,
        change.redirected_to,
        change.at,
    )


async def get_referral(conn: Conn, pre_id: str, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, pre_id, institution_id, subject_id, known_subject, status, submitted_at "
        "FROM referrals WHERE pre_id = $1 AND id = $2",
        pre_id,
        referral_id,
    )


async def get_timeline(conn: Conn, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT status, reason, redirected_to, at FROM referral_timeline "
        "WHERE referral_id = $1 ORDER BY position",
        referral_id,
    )


async def erase_identity(conn: Conn, pre_id: str, subject_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE referrals SET sealed = '' WHERE pre_id = $1 AND subject_id = $2",
        pre_id,
        subject_id,
    )
