"""SQL of référents, their assignments and caseloads, and the PRE's limits.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn


async def upsert_referent(conn: Conn, tenant: str, values: dict[str, Any]) -> int | None:
    """Insert or update; the entry's new version, or None when the id belongs to another
    PRE or the login is taken."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO referents (id, pre_id, user_sub, display_name, caseload_limit, active, "
            "version) VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (id) DO UPDATE SET "
            "user_sub = $3, display_name = $4, caseload_limit = $5, active = $6, "
            "version = referents.version + 1 WHERE referents.pre_id = $2 RETURNING version",
            values["id"],
            tenant,
            values["user_sub"],
            values["display_name"],
            values["caseload_limit"],
            values["active"],
        )
    except asyncpg.UniqueViolationError:
        return None
    return None if row is None else int(row["version"])


async def get_referent(conn: Conn, tenant: str, referent_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referents WHERE pre_id = $1 AND id = $2", tenant, referent_id
    )


async def lock_referent(conn: Conn, tenant: str, referent_id: uuid.UUID) -> None:
    await conn.execute(
        "SELECT 1 FROM referents WHERE id = $1 AND pre_id = $2 FOR UPDATE", referent_id, tenant
    )


async def list_referents(
    conn: Conn, tenant: str, limit: int | None = None, offset: int = 0
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.*, (SELECT count(*) FROM situations s WHERE s.referent_id = r.id "
        "AND s.stage = 'in_parcours') AS caseload "
        "FROM referents r WHERE r.pre_id = $1 ORDER BY r.display_name, r.id LIMIT $2 OFFSET $3",
        tenant,
        limit,
        offset,
    )


async def caseload(conn: Conn, tenant: str, referent_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM situations WHERE pre_id = $1 AND referent_id = $2 "
        "AND stage = 'in_parcours'",
        tenant,
        referent_id,
    )
    return n


async def end_assignment(conn: Conn, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE referent_assignments SET ended_at = $2 "
        "WHERE pre_id = $3 AND situation_id = $1 AND ended_at IS NULL",
        situation_id,
        now,
        tenant,
    )


async def insert_assignment(
    conn: Conn,
    *,
    situation_id: uuid.UUID,
    tenant: str,
    referent_id: uuid.UUID,
    assigned_at: datetime,
    assigned_by: str,
    over_limit: bool,
    override_reason_enc: bytes | None,
) -> None:
    await conn.execute(
        "INSERT INTO referent_assignments (id, situation_id, pre_id, referent_id, assigned_at, "
        "assigned_by, over_limit, override_reason_enc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid.uuid4(),
        situation_id,
        tenant,
        referent_id,
        assigned_at,
        assigned_by,
        over_limit,
        override_reason_enc,
    )


async def assignments(conn: Conn, tenant: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.referent_id, r.display_name, a.assigned_at, a.assigned_by, a.ended_at, "
        "a.over_limit, a.override_reason, a.override_reason_enc, s.subject_id, k.wrapped_key "
        "FROM referent_assignments a "
        "JOIN referents r ON r.id = a.referent_id "
        "JOIN situations s ON s.id = a.situation_id "
        "LEFT JOIN subject_keys k ON k.pre_id = s.pre_id AND k.subject_id = s.subject_id "
        "WHERE a.pre_id = $1 AND a.situation_id = $2 ORDER BY a.assigned_at",
        tenant,
        situation_id,
    )


async def set_pre_limits(
    conn: Conn, tenant: str, caseload_limit: int | None, max_duration_months: int | None
) -> None:
    await conn.execute(
        "INSERT INTO pre_settings (pre_id, caseload_limit, max_duration_months) "
        "VALUES ($1, $2, $3) ON CONFLICT (pre_id) DO UPDATE SET caseload_limit = $2, "
        "max_duration_months = $3",
        tenant,
        caseload_limit,
        max_duration_months,
    )


async def pre_limits(conn: Conn, tenant: str) -> dict[str, int | None]:
    row = await conn.fetchrow(
        "SELECT caseload_limit, max_duration_months FROM pre_settings WHERE pre_id = $1", tenant
    )
    if row is None:
        return {"caseload_limit": None, "max_duration_months": None}
    return dict(row)


async def referent_by_sub(conn: Conn, tenant: str, user_sub: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referents WHERE pre_id = $1 AND user_sub = $2 AND active",
        tenant,
        user_sub,
    )
