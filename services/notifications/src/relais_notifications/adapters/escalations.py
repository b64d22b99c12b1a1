"""SQL for reminders that escalate to the coordinators when a deadline stays overdue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_contracts.envelope import CloudEvent
from relais_contracts.types import DeadlineKind
from relais_runtime.db import Conn

FOLLOWUP = DeadlineKind.FOLLOWUP.value


async def _lock(conn: Conn, tenant: str, about: uuid.UUID | None) -> None:
    """Serialise a reminder and the answer that resolves it (a partner's answer about a
    handover, a follow-up recorded for a situation) handled at the same time, so each sees
    what the other committed (else both could miss each other)."""
    if about is not None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
            tenant,
            str(about),
        )


async def schedule(
    conn: Conn,
    *,
    deadline_id: uuid.UUID,
    kind: str | None,
    situation_id: uuid.UUID | None,
    event: CloudEvent[Any],
    escalate_at: datetime,
) -> None:
    """Plan the escalation; already resolved if the answer was handled first."""
    handover_id = getattr(event.data, "handover_id", None)
    followup = situation_id if kind == FOLLOWUP else None
    await _lock(conn, event.tenant, handover_id)
    await _lock(conn, event.tenant, followup)
    await conn.execute(
        "INSERT INTO escalations (deadline_id, pre_id, handover_id, situation_id, kind, event, "
        "escalate_at, resolved_at) SELECT $1, $2, $3, $4, $5, $6, $7, coalesce("
        "(SELECT answered_at FROM handover_answers WHERE pre_id = $2 AND handover_id = $3), "
        "(SELECT recorded_at FROM followups_recorded WHERE pre_id = $2 AND situation_id = $8)) "
        "ON CONFLICT (deadline_id) DO NOTHING",
        deadline_id,
        event.tenant,
        handover_id,
        situation_id,
        kind,
        {
            **event.model_dump(mode="json", exclude={"data"}),
            "data": event.data.model_dump(mode="json"),
        },
        escalate_at,
        followup,
    )


async def resolve_handover(
    conn: Conn, tenant: str, handover_id: uuid.UUID, situation_id: uuid.UUID | None
) -> None:
    """The partner answered (or the handover ended): nothing left to escalate. The answer
    remembers its situation, to be erased with it."""
    await _lock(conn, tenant, handover_id)
    await conn.execute(
        "INSERT INTO handover_answers (pre_id, handover_id, situation_id) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        tenant,
        handover_id,
        situation_id,
    )
    await conn.execute(
        "UPDATE escalations SET resolved_at = now() WHERE pre_id = $1 AND handover_id = $2 "
        "AND escalated_at IS NULL AND resolved_at IS NULL",
        tenant,
        handover_id,
    )


async def resolve_followup(conn: Conn, tenant: str, situation_id: uuid.UUID) -> None:
    """The follow-up was recorded: its reminder need not reach the coordinators."""
    await _lock(conn, tenant, situation_id)
    await conn.execute(
        "INSERT INTO followups_recorded (pre_id, situation_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        tenant,
        situation_id,
    )
    await conn.execute(
        "UPDATE escalations SET resolved_at = now() WHERE pre_id = $1 AND situation_id = $2 "
        "AND kind = $3 AND escalated_at IS NULL AND resolved_at IS NULL",
        tenant,
        situation_id,
        FOLLOWUP,
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
