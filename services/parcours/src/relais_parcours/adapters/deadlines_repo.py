"""SQL of deadlines (review, handover answer, follow-up, family requests).

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from relais_runtime.db import Conn


async def add_deadline(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    kind: str,
    due_on: date,
    *,
    handover_id: uuid.UUID | None,
) -> None:
    await conn.execute(
        "INSERT INTO deadlines (id, pre_id, situation_id, kind, handover_id, due_on) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        uuid.uuid4(),
        tenant,
        situation_id,
        kind,
        handover_id,
        due_on,
    )


async def resolve_deadlines(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    kind: str,
    handover_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        "UPDATE deadlines SET resolved_at = now() WHERE pre_id = $4 AND situation_id "
        "= $1 AND kind = $2 "
        "AND ($3::uuid IS NULL OR handover_id = $3) AND resolved_at IS NULL",
        situation_id,
        kind,
        handover_id,
        tenant,
    )


async def claim_due_deadlines(conn: Conn, today: date, limit: int) -> list[asyncpg.Record]:
    """Deadlines past due (the follow-up: due today), locked; other replicas skip them.
    Across PREs (a sweep: the sweep role only)."""
    return await conn.fetch(
        "SELECT d.id, d.pre_id, d.situation_id, d.kind, d.handover_id, d.due_on, "
        "s.subject_id, s.referent_id, s.closed_at, h.partner_id "
        "FROM deadlines d JOIN situations s ON s.id = d.situation_id "
        "LEFT JOIN handovers h ON h.id = d.handover_id "
        "WHERE d.fired_at IS NULL AND d.resolved_at IS NULL "
        "AND (d.due_on < $1 OR (d.kind = 'followup' AND d.due_on <= $1)) "
        "ORDER BY d.due_on LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
        today,
        limit,
    )


async def count_open_deadlines(conn: Conn, today: date) -> list[asyncpg.Record]:
    """Per kind, across PREs (an operations figure): fired and unresolved, due and not fired."""
    return await conn.fetch(
        "SELECT kind, count(*) FILTER (WHERE fired_at IS NOT NULL) AS overdue, "
        "count(*) FILTER (WHERE fired_at IS NULL "
        "AND (due_on < $1 OR (kind = 'followup' AND due_on <= $1))) AS unfired "
        "FROM deadlines WHERE resolved_at IS NULL GROUP BY kind",
        today,
    )


async def mark_deadline_fired(
    conn: Conn, tenant: str, deadline_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deadlines SET fired_at = $2 WHERE id = $1 AND pre_id = $3", deadline_id, now, tenant
    )
