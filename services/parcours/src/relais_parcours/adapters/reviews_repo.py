"""SQL of team reviews (EPS): meetings, their agenda and decisions.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn


async def insert_meeting(
    conn: Conn,
    meeting_id: uuid.UUID,
    tenant: str,
    meets_on: date,
    attendees: list[dict[str, Any]],
    created_by: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO review_meetings (id, pre_id, meets_on, attendees, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        meeting_id,
        tenant,
        meets_on,
        attendees,
        created_by,
        now,
    )


async def get_meeting(
    conn: Conn, tenant: str, meeting_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM review_meetings WHERE pre_id = $1 AND id = $2"  # noqa: S608 - constant
        + (" FOR UPDATE" if lock else ""),
        tenant,
        meeting_id,
    )


async def list_meetings(conn: Conn, tenant: str, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM review_meetings WHERE pre_id = $1 ORDER BY meets_on DESC, created_at DESC "
        "LIMIT $2 OFFSET $3",
        tenant,
        limit,
        offset,
    )


async def set_meeting_attendees(
    conn: Conn, tenant: str, meeting_id: uuid.UUID, attendees: list[dict[str, Any]]
) -> None:
    await conn.execute(
        "UPDATE review_meetings SET attendees = $2 WHERE id = $1 AND pre_id = $3",
        meeting_id,
        attendees,
        tenant,
    )


async def agenda_length(conn: Conn, tenant: str, meeting_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT coalesce(max(position), 0) FROM review_agenda WHERE pre_id = $2 AND "
        "meeting_id = $1",
        meeting_id,
        tenant,
    )
    return n


async def add_to_agenda(
    conn: Conn, meeting_id: uuid.UUID, situation_id: uuid.UUID, tenant: str, position: int
) -> None:
    await conn.execute(
        "INSERT INTO review_agenda (meeting_id, situation_id, pre_id, position) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        meeting_id,
        situation_id,
        tenant,
        position,
    )


async def on_agenda(
    conn: Conn, tenant: str, meeting_id: uuid.UUID, situation_id: uuid.UUID
) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM review_agenda WHERE pre_id = $3 AND meeting_id "
        "= $1 AND situation_id = $2)",
        meeting_id,
        situation_id,
        tenant,
    )
    return found


async def agenda(conn: Conn, tenant: str, meeting_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.situation_id, a.position, s.stage, s.review_due_on, s.referent_id, "
        "d.id AS decision_id, "
        "d.decision, d.decline_reason, d.redirected_to, d.redirect_category, d.axes, d.note, "
        "d.note_enc, d.decided_at, s.subject_id, k.wrapped_key "
        "FROM review_agenda a JOIN situations s ON s.pre_id = a.pre_id AND s.id = a.situation_id "
        "LEFT JOIN subject_keys k ON k.pre_id = s.pre_id AND k.subject_id = s.subject_id "
        "LEFT JOIN review_decisions d ON d.pre_id = a.pre_id "
        "AND d.situation_id = a.situation_id AND d.meeting_id = a.meeting_id "
        "WHERE a.pre_id = $2 AND a.meeting_id = $1 ORDER BY a.position",
        meeting_id,
        tenant,
    )


async def insert_decision(conn: Conn, tenant: str, values: dict[str, Any]) -> None:
    values = {**values, "pre_id": tenant}
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO review_decisions ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )
