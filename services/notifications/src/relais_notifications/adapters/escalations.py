"""SQL for reminders that escalate to the coordinators when a deadline stays overdue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_contracts.envelope import CloudEvent
from relais_runtime.db import Conn


async def _lock_handover(conn: Conn, pre_id: str, handover_id: uuid.UUID | None) -> None:
    """Serialise a reminder and an answer about one handover handled at the same time, so
    each sees what the other committed (else both could miss each other)."""
    if handover_id is not None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
            pre_id,
            str(handover_id),
        )


async def schedule(
    conn: Conn, *, deadline_id: uuid.UUID, event: CloudEvent[Any], escalate_at: datetime
) -> None:
    await _lock_handover(conn, event.tenant, getattr(event.data, "handover_id", None))
    await conn.execute(
        "INSERT INTO escalations (deadline_id, pre_id, handover_id, event, escalate_at, "
        "resolved_at) SELECT $1, $2, $3, $4, $5, "
        "(SELECT answered_at FROM handover_answers WHERE pre_id = $2 AND handover_id = $3) "
        "ON CONFLICT (deadline_id) DO NOTHING",
        deadline_id,
        event.tenant,
        getattr(event.data, "handover_id", None),
        {
            **event.model_dump(mode="json", exclude={"data"}),
            "data": event.data.model_dump(mode="json"),
        },
        escalate_at,
    )


async def resolve_handover(conn: Conn, pre_id: str, handover_id: uuid.UUID) -> None:
    """The partner answered (or the handover ended): nothing left to escalate."""
    await _lock_handover(conn, pre_id, handover_id)
    await conn.execute(
        "INSERT INTO handover_answers (pre_id, handover_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        pre_id,
        handover_id,
    )
    await conn.execute(
        "UPDATE escalations SET resolved_at = now() WHERE pre_id = $1 AND handover_id = $2 "
        "AND escalated_at IS NULL AND resolved_at IS NULL",
        pre_id,
        handover_id,
    )


async def claim_due(conn: Conn, *, batch: int) -> list[asyncpg.Record]:
    """Due escalations, locked for this transaction (several replicas share the work)."""
    return await conn.fetch(
        "SELECT deadline_id, event FROM escalations WHERE escalated_at IS NULL "
        "AND resolved_at IS NULL AND escalate_at <= now() ORDER BY escalate_at LIMIT $1 "
        "FOR UPDATE SKIP LOCKED",
        batch,
    )


async def mark_escalated(conn: Conn, deadline_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE escalations SET escalated_at = now() WHERE deadline_id = $1", deadline_id
    )
