"""SQL of the individual plan: objectives and actions.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_parcours.domain.consent import Row
from relais_parcours.domain.plan import Action, Objective, Plan
from relais_parcours.domain.situation import Stage
from relais_runtime.db import Conn


async def load(conn: Conn, tenant: str, situation: Row, opened_on: date) -> Plan:
    """The plan of a situation (a row of ``situations_repo.get_situation``) for its rules:
    objectives and actions without their wording, each action with whether a partner holds
    it (a handover neither declined nor cancelled)."""
    objectives = await conn.fetch(
        "SELECT id, axis, status, target_on FROM plan_objectives "
        "WHERE pre_id = $1 AND situation_id = $2",
        tenant,
        situation["id"],
    )
    actions = await conn.fetch(
        "SELECT a.id, a.objective_id, a.axis, a.status, a.starts_on, a.ends_on, "
        "EXISTS (SELECT 1 FROM handovers h WHERE h.pre_id = a.pre_id AND h.action_id = a.id "
        "AND h.status NOT IN ('declined', 'cancelled')) AS with_partner "
        "FROM plan_actions a WHERE a.pre_id = $1 AND a.situation_id = $2",
        tenant,
        situation["id"],
    )
    return Plan(
        situation_id=situation["id"],
        subject_id=situation["subject_id"],
        stage=Stage(situation["stage"]),
        opened_on=opened_on,
        version=situation["plan_version"],
        objectives={r["id"]: Objective.of(r) for r in objectives},
        actions={r["id"]: Action.of(r) for r in actions},
    )


async def set_plan_version(conn: Conn, tenant: str, situation_id: uuid.UUID, version: int) -> None:
    """Store the version the plan's last change reached (the situation is locked)."""
    await conn.execute(
        "UPDATE situations SET plan_version = $3 WHERE pre_id = $1 AND id = $2",
        tenant,
        situation_id,
        version,
    )


# The title is stored under the child's key (``title_enc``, service/child_texts.py); the
# clear ``title`` of a row from before migration 0023 is cleared when a new one is written.
_PLAN_COLUMNS = {
    "plan_objectives": ("title", "title_enc", "status", "target_on"),
    "plan_actions": ("title", "title_enc", "status", "starts_on", "ends_on"),
}


async def insert_objective(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    objective: Objective,
    title_enc: bytes,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO plan_objectives (id, situation_id, pre_id, axis, title_enc, status, "
        "target_on, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7)",
        objective.id,
        situation_id,
        tenant,
        objective.axis.value,
        title_enc,
        objective.target_on,
        now,
    )


async def insert_action(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    action: Action,
    title_enc: bytes,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO plan_actions (id, objective_id, situation_id, pre_id, axis, title_enc, "
        "status, starts_on, ends_on, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7, $8, $9, $9)",
        action.id,
        action.objective_id,
        situation_id,
        tenant,
        action.axis.value,
        title_enc,
        action.starts_on,
        action.ends_on,
        now,
    )


async def update_plan_item(
    conn: Conn,
    tenant: str,
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
        tenant,
        *(changes[c] for c in columns),
    )
    return row is not None


async def get_action(
    conn: Conn, tenant: str, situation_id: uuid.UUID, action_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM plan_actions WHERE pre_id = $3 AND situation_id = $1 AND id = $2",
        situation_id,
        action_id,
        tenant,
    )


async def plan(
    conn: Conn, tenant: str, situation_id: uuid.UUID
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    objectives = await conn.fetch(
        "SELECT * FROM plan_objectives WHERE pre_id = $2 AND situation_id = $1 ORDER BY created_at",
        situation_id,
        tenant,
    )
    actions = await conn.fetch(
        "SELECT a.*, (SELECT h.id FROM handovers h "
        "WHERE h.pre_id = a.pre_id AND h.action_id = a.id "
        "ORDER BY h.requested_at DESC LIMIT 1) AS handover_id "
        "FROM plan_actions a WHERE a.pre_id = $2 AND a.situation_id = $1 ORDER BY a.created_at",
        situation_id,
        tenant,
    )
    return objectives, actions
