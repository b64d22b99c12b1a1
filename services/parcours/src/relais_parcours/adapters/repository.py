"""SQL for situations. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn


async def find_situation_for_subject(
    conn: Conn, pre_id: str, subject_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM situations WHERE pre_id = $1 AND subject_id = $2 FOR UPDATE",
        pre_id,
        subject_id,
    )


async def insert_situation(
    conn: Conn,
    *,
    situation_id: uuid.UUID,
    pre_id: str,
    subject_id: uuid.UUID,
    opened_at: datetime,
    review_due_on: date,
) -> None:
    await conn.execute(
        "INSERT INTO situations (id, pre_id, subject_id, stage, version, opened_at, review_due_on) "
        "VALUES ($1, $2, $3, 'awaiting_review', 1, $4, $5)",
        situation_id,
        pre_id,
        subject_id,
        opened_at,
        review_due_on,
    )


async def bump_version(conn: Conn, situation_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        "UPDATE situations SET version = version + 1 WHERE id = $1 RETURNING version",
        situation_id,
    )
    return version


async def attach_referral(
    conn: Conn,
    *,
    referral_id: uuid.UUID,
    situation_id: uuid.UUID,
    pre_id: str,
    institution_id: str,
    facts: dict[str, Any],
    sealed: str,
    received_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO situation_referrals (referral_id, situation_id, pre_id, institution_id, "
        "facts, sealed, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        referral_id,
        situation_id,
        pre_id,
        institution_id,
        facts,
        sealed,
        received_at,
    )


async def list_situations(
    conn: Conn, pre_id: str, *, stage: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.id, s.subject_id, s.stage, s.opened_at, s.review_due_on, "
        "array_agg(r.referral_id ORDER BY r.received_at) AS referral_ids, "
        "array_agg(DISTINCT r.institution_id) AS institution_ids "
        "FROM situations s JOIN situation_referrals r ON r.situation_id = s.id "
        "WHERE s.pre_id = $1 AND ($2::text IS NULL OR s.stage = $2) "
        "GROUP BY s.id ORDER BY s.opened_at DESC LIMIT $3 OFFSET $4",
        pre_id,
        stage,
        limit,
        offset,
    )


async def upsert_partner(conn: Conn, values: dict[str, Any]) -> bool:
    """Insert or update; False if the id belongs to another PRE (ids are global)."""
    row = await conn.fetchrow(
        "INSERT INTO partners (id, pre_id, name, category, description, website) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = $3, "
        "category = $4, description = $5, website = $6, updated_at = now() "
        "WHERE partners.pre_id = $2 RETURNING id",
        values["id"],
        values["pre_id"],
        values["name"],
        values["category"],
        values.get("description"),
        values.get("website"),
    )
    return row is not None


async def list_partners(conn: Conn, pre_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, pre_id, name, category, description, website FROM partners "
        "WHERE pre_id = $1 ORDER BY name",
        pre_id,
    )
