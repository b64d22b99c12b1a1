"""SQL of the individual plan: objectives and actions.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn

# The title is stored under the child's key (``title_enc``, service/child_texts.py); the
# clear ``title`` of a row from before migration 0023 is cleared when a new one is written.
_PLAN_COLUMNS = {
    "plan_objectives": ("title", "title_enc", "status", "target_on"),
    "plan_actions": ("title", "title_enc", "status", "starts_on", "ends_on"),
}


async def bump_plan_version(conn: Conn, pre_id: str, situation_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        "UPDATE situations SET plan_version = plan_version + 1 WHERE id = $1 AND pre_id = $2 "
        "RETURNING plan_version",
        situation_id,
        pre_id,
    )
    return version


async def insert_objective(
    conn: Conn,
    objective_id: uuid.UUID,
    situation_id: uuid.UUID,
    pre_id: str,
    values: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO plan_objectives (id, situation_id, pre_id, axis, title_enc, status, "
        "target_on, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7)",
        objective_id,
        situation_id,
        pre_id,
        values["axis"],
        values["title_enc"],
        values.get("target_on"),
        now,
    )


async def get_objective(
    conn: Conn, pre_id: str, situation_id: uuid.UUID, objective_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM plan_objectives WHERE pre_id = $3 AND situation_id = $1 AND id = $2",
        situation_id,
        objective_id,
        pre_id,
    )


async def insert_action(
    conn: Conn,
    pre_id: str,
    action_id: uuid.UUID,
    objective: Any,
    values: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO plan_actions (id, objective_id, situation_id, pre_id, axis, title_enc, "
        "status, starts_on, ends_on, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7, $8, $9, $9)",
        action_id,
        objective["id"],
        objective["situation_id"],
        pre_id,
        objective["axis"],
        values["title_enc"],
        values.get("starts_on"),
        values.get("ends_on"),
        now,
    )


async def update_plan_item(
    conn: Conn,
    pre_id: str,
    table: str,
    item_id: uuid.UUID,
    situation_id: uuid.UUID,
    changes: dict[str, Any],
    now: datetime,
) -> bool:
    columns = [c for c in _PLAN_COLUMNS[table] if c in changes]  # a fixed allow-list
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=5))
    row = await conn.fetchrow(
        f"UPDATE {table} SET updated_at = $3{', ' + sets if sets else ''} "  # noqa: S608 - allow-listed names
        "WHERE id = $1 AND situation_id = $2 AND pre_id = $4 RETURNING id",
        item_id,
        situation_id,
        now,
        pre_id,
        *(changes[c] for c in columns),
    )
    return row is not None


async def get_action(
    conn: Conn, pre_id: str, situation_id: uuid.UUID, action_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM plan_actions WHERE pre_id = $3 AND situation_id = $1 AND id = $2",
        situation_id,
        action_id,
        pre_id,
    )


async def plan_counts(conn: Conn, pre_id: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT 'objective' AS kind, axis, status, count(*)::int AS n, 0 AS with_partner "
        "FROM plan_objectives WHERE pre_id = $2 AND situation_id = $1 GROUP BY axis, status "
        "UNION ALL "
        "SELECT 'action', a.axis, a.status, count(*)::int, "
        "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM handovers h WHERE h.action_id = a.id "
        "AND h.status NOT IN ('declined', 'cancelled')))::int "
        "FROM plan_actions a WHERE a.pre_id = $2 AND a.situation_id = $1 GROUP BY a.axis, a.status",
        situation_id,
        pre_id,
    )


async def plan(
    conn: Conn, pre_id: str, situation_id: uuid.UUID
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    objectives = await conn.fetch(
        "SELECT * FROM plan_objectives WHERE pre_id = $2 AND situation_id = $1 ORDER BY created_at",
        situation_id,
        pre_id,
    )
    actions = await conn.fetch(
        "SELECT a.*, (SELECT h.id FROM handovers h WHERE h.action_id = a.id "
        "ORDER BY h.requested_at DESC LIMIT 1) AS handover_id "
        "FROM plan_actions a WHERE a.pre_id = $2 AND a.situation_id = $1 ORDER BY a.created_at",
        situation_id,
        pre_id,
    )
    return objectives, actions
