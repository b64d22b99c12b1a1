"""SQL for the event log and projections. Every query is scoped by PRE."""

from __future__ import annotations

from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_runtime.db import Conn


async def log_event(conn: Conn, event: CloudEvent[Any], data: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO event_log (id, type, pre_id, subject, sequence, occurred_at, data) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        event.id,
        event.type,
        event.tenant,
        event.subject,
        event.sequence,
        event.time,
        data,
    )


async def count_referral(conn: Conn, pre_id: str, school_year: str, source_category: str) -> None:
    await conn.execute(
        "INSERT INTO referrals_by_year (pre_id, school_year, source_category, referrals) "
        "VALUES ($1, $2, $3, 1) ON CONFLICT (pre_id, school_year, source_category) "
        "DO UPDATE SET referrals = referrals_by_year.referrals + 1",
        pre_id,
        school_year,
        source_category,
    )


async def referrals_in_year(conn: Conn, pre_id: str, school_year: str) -> int:
    total: int = await conn.fetchval(
        "SELECT coalesce(sum(referrals), 0) FROM referrals_by_year "
        "WHERE pre_id = $1 AND school_year = $2",
        pre_id,
        school_year,
    )
    return total
