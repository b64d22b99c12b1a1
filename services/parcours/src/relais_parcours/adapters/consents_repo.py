"""SQL of the consent ledger.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn


async def insert_consent(conn: Conn, tenant: str, values: dict[str, Any]) -> None:
    values = {**values, "pre_id": tenant}
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO consents ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )


async def active_consent(conn: Conn, tenant: str, situation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM consents WHERE pre_id = $2 AND situation_id = $1 AND status = "
        "'active' FOR UPDATE",
        situation_id,
        tenant,
    )


async def consents_in_force_read(
    conn: Conn, tenant: str, situation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """The active consent of each situation, for a read (no lock): situation id -> consent."""
    rows = await conn.fetch(
        "SELECT situation_id, status, valid_until, scope FROM consents "
        "WHERE pre_id = $2 AND situation_id = ANY($1::uuid[]) AND status = 'active'",
        situation_ids,
        tenant,
    )
    return {r["situation_id"]: r for r in rows}


async def get_consent(
    conn: Conn, tenant: str, situation_id: uuid.UUID, consent_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM consents WHERE pre_id = $1 AND situation_id = $2 AND id = $3 FOR UPDATE",
        tenant,
        situation_id,
        consent_id,
    )


async def list_consents(conn: Conn, tenant: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM consents WHERE pre_id = $1 AND situation_id = $2 "
        "ORDER BY given_at, ended_at IS NULL, ended_at",
        tenant,
        situation_id,
    )


async def end_consent(
    conn: Conn,
    tenant: str,
    consent_id: uuid.UUID,
    status: str,
    now: datetime,
    withdrawn_by: str | None,
) -> None:
    await conn.execute(
        "UPDATE consents SET status = $2, ended_at = $3, withdrawn_by = $4 WHERE id = "
        "$1 AND pre_id = $5",
        consent_id,
        status,
        now,
        withdrawn_by,
        tenant,
    )


async def claim_expired_consents(conn: Conn, today: date, limit: int) -> list[asyncpg.Record]:
    """Active consents past their last day, across PREs (a sweep: the sweep role only)."""
    return await conn.fetch(
        "SELECT c.id, c.situation_id, c.pre_id, c.valid_until, c.scope, s.subject_id "
        "FROM consents c JOIN situations s ON s.id = c.situation_id "
        "WHERE c.status = 'active' AND c.valid_until < $1 "
        "ORDER BY c.valid_until LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
        today,
        limit,
    )
