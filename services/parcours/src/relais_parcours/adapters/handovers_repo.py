"""SQL of handovers to partners and of the disclosure ledger.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_parcours.domain.handover import Handover
from relais_runtime.db import Conn

_HANDOVER_COLUMNS = "h.*, s.subject_id"


_HANDOVER_UPDATABLE = frozenset(
    {
        "status",
        "responded_at",
        "starts_on",
        "decline_reason",
        "expected_start_on",
        "outcome",
        "ended_at",
    }
)


async def open_handovers(conn: Conn, tenant: str, situation_id: uuid.UUID) -> list[Handover]:
    """The situation's handovers a partner still holds, locked."""
    rows = await conn.fetch(
        f"SELECT {_HANDOVER_COLUMNS} FROM handovers h JOIN situations s ON s.id = h.situation_id "  # noqa: S608 - constant
        "WHERE h.pre_id = $2 AND h.situation_id = $1 AND h.status IN ('requested', "
        "'accepted', 'waitlisted') "
        "FOR UPDATE OF h",
        situation_id,
        tenant,
    )
    return [Handover.of(r) for r in rows]


async def cancel_handover(
    conn: Conn, tenant: str, handover_id: uuid.UUID, reason: str, now: datetime
) -> int:
    version: int = await conn.fetchval(
        "UPDATE handovers SET status = 'cancelled', cancel_reason = $2, ended_at = $3, "
        "version = version + 1 WHERE id = $1 AND pre_id = $4 RETURNING version",
        handover_id,
        reason,
        now,
        tenant,
    )
    return version


async def open_handover_for(conn: Conn, tenant: str, action_id: uuid.UUID, partner_id: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM handovers WHERE pre_id = $3 AND action_id = $1 "
        "AND partner_id = $2 "
        "AND status IN ('requested', 'accepted', 'waitlisted'))",
        action_id,
        partner_id,
        tenant,
    )
    return found


async def insert_handover(conn: Conn, tenant: str, values: dict[str, Any]) -> None:
    values = {**values, "pre_id": tenant}
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO handovers ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )


async def get_handover(
    conn: Conn, tenant: str, handover_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_HANDOVER_COLUMNS} FROM handovers h JOIN situations s ON s.id = h.situation_id "  # noqa: S608 - constant
        "WHERE h.pre_id = $1 AND h.id = $2" + (" FOR UPDATE OF h" if lock else ""),
        tenant,
        handover_id,
    )


async def update_handover(
    conn: Conn, tenant: str, handover_id: uuid.UUID, changes: dict[str, Any]
) -> int:
    columns = [c for c in changes if c in _HANDOVER_UPDATABLE]
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    version: int = await conn.fetchval(
        f"UPDATE handovers SET {sets}, version = version + 1 "  # noqa: S608 - allow-listed names
        "WHERE id = $1 AND pre_id = $2 RETURNING version",
        handover_id,
        tenant,
        *(changes[c] for c in columns),
    )
    return version


#: A handover as it is shown: with its action's axis and title.
_VIEW = (
    "SELECT h.id, h.situation_id, h.action_id, h.partner_id, h.referent_id, h.consent_id, "
    "h.data_categories, h.status, h.requested_at, h.response_due_on, h.responded_at, "
    "h.decline_reason, h.expected_start_on, h.starts_on, h.outcome, h.ended_at, "
    "h.cancel_reason, a.axis, a.title AS action_title, a.title_enc AS action_title_enc, "
    "s.subject_id "
    "FROM handovers h JOIN plan_actions a ON a.id = h.action_id "
    "JOIN situations s ON s.id = h.situation_id "
)


async def handover_view(conn: Conn, tenant: str, handover_id: uuid.UUID) -> asyncpg.Record | None:
    """One handover as :func:`list_handovers` shows it, by id."""
    return await conn.fetchrow(
        _VIEW + "WHERE h.pre_id = $1 AND h.id = $2",
        tenant,
        handover_id,
    )


async def list_handovers(
    conn: Conn,
    tenant: str,
    *,
    partner_id: str | None,
    situation_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    offset: int,
    referent_id: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        _VIEW  # noqa: S608 - constant
        + "WHERE h.pre_id = $1 AND ($2::text IS NULL OR h.partner_id = $2) "
        "AND ($3::uuid IS NULL OR h.situation_id = $3) AND ($4::text IS NULL OR h.status = $4) "
        "AND ($7::uuid IS NULL OR h.situation_id IN "
        "(SELECT id FROM situations WHERE referent_id = $7)) "
        "ORDER BY h.requested_at DESC LIMIT $5 OFFSET $6",
        tenant,
        partner_id,
        situation_id,
        status,
        limit,
        offset,
        referent_id,
    )


async def record_disclosure(
    conn: Conn,
    *,
    situation_id: uuid.UUID,
    tenant: str,
    handover_id: uuid.UUID,
    partner_id: str,
    reader_sub: str,
    data_categories: list[str],
    read_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO disclosures (id, situation_id, pre_id, handover_id, partner_id, reader_sub, "
        "data_categories, read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid.uuid4(),
        situation_id,
        tenant,
        handover_id,
        partner_id,
        reader_sub,
        data_categories,
        read_at,
    )


async def disclosures(
    conn: Conn, tenant: str, situation_id: uuid.UUID, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.read_at, d.partner_id, p.name AS partner_name, d.reader_sub, "
        "d.data_categories, d.handover_id FROM disclosures d "
        "LEFT JOIN partners p ON p.id = d.partner_id "
        "WHERE d.pre_id = $1 AND d.situation_id = $2 ORDER BY d.read_at LIMIT $3 OFFSET $4",
        tenant,
        situation_id,
        limit,
        offset,
    )
