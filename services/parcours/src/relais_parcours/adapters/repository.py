"""SQL for situations. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_parcours.adapters import directory
from relais_runtime.db import Conn


async def latest_situation_for_subject(
    conn: Conn, pre_id: str, subject_id: uuid.UUID
) -> asyncpg.Record | None:
    """The child's most recent situation, locked (earlier ones are finished or erased)."""
    return await conn.fetchrow(
        "SELECT * FROM situations WHERE pre_id = $1 AND subject_id = $2 "
        "ORDER BY opened_at DESC LIMIT 1 FOR UPDATE",
        pre_id,
        subject_id,
    )


async def situations_of_subject(
    conn: Conn, pre_id: str, subject_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every situation of the child, oldest first, locked."""
    return await conn.fetch(
        "SELECT id, stage FROM situations WHERE pre_id = $1 AND subject_id = $2 "
        "ORDER BY opened_at FOR UPDATE",
        pre_id,
        subject_id,
    )


async def insert_situation(
    conn: Conn,
    *,
    situation_id: uuid.UUID,
    pre_id: str,
    subject_id: uuid.UUID,
    opened_at: datetime,
    review_due_on: date,
    previous_situation_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO situations (id, pre_id, subject_id, stage, version, opened_at, "
        "review_due_on, previous_situation_id) "
        "VALUES ($1, $2, $3, 'awaiting_review', 1, $4, $5, $6)",
        situation_id,
        pre_id,
        subject_id,
        opened_at,
        review_due_on,
        previous_situation_id,
    )


async def bump_version(conn: Conn, situation_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        "UPDATE situations SET version = version + 1 WHERE id = $1 RETURNING version",
        situation_id,
    )
    return version


async def attach_referral(
    conn: Conn,
    *,
    referral_id: uuid.UUID,
    situation_id: uuid.UUID,
    pre_id: str,
    institution_id: str,
    facts: dict[str, Any],
    identity_enc: bytes | None,
    received_at: datetime,
    interpreter_needed: bool | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO situation_referrals (referral_id, situation_id, pre_id, institution_id, "
        "facts, identity_enc, received_at, interpreter_needed) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        referral_id,
        situation_id,
        pre_id,
        institution_id,
        facts,
        identity_enc,
        received_at,
        interpreter_needed,
    )


_SITUATION_COLUMNS = (
    "s.id, s.pre_id, s.subject_id, s.stage, s.version, s.opened_at, s.review_due_on, s.started_on, "
    "s.axes, s.referent_id, s.plan_version, s.closed_at, s.exit_reason, s.exit_reason_text, "
    "s.final_review_held, s.followup_due_on, s.previous_situation_id, "
    "array_agg(r.referral_id ORDER BY r.received_at) AS referral_ids, "
    "array_agg(DISTINCT r.institution_id) AS institution_ids, "
    "jsonb_agg(r.facts ORDER BY r.received_at) AS facts, "
    "coalesce(bool_or(r.interpreter_needed) FILTER (WHERE r.withdrawn_at IS NULL), false) "
    "AS interpreter_needed"
)


async def list_situations(
    conn: Conn,
    pre_id: str,
    *,
    stage: str | None,
    referent_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_SITUATION_COLUMNS} "  # noqa: S608 - a constant column list
        "FROM situations s JOIN situation_referrals r ON r.situation_id = s.id "
        "WHERE s.pre_id = $1 AND ($2::text IS NULL OR s.stage = $2) "
        "AND ($3::uuid IS NULL OR s.referent_id = $3) "
        "GROUP BY s.id ORDER BY s.opened_at DESC LIMIT $4 OFFSET $5",
        pre_id,
        stage,
        referent_id,
        limit,
        offset,
    )


async def get_situation(
    conn: Conn, pre_id: str, situation_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:  # serialise changes to one situation (version = event sequence)
        await conn.execute(
            "SELECT 1 FROM situations WHERE pre_id = $1 AND id = $2 FOR UPDATE",
            pre_id,
            situation_id,
        )
    return await conn.fetchrow(
        f"SELECT {_SITUATION_COLUMNS} "  # noqa: S608 - a constant column list
        "FROM situations s JOIN situation_referrals r ON r.situation_id = s.id "
        "WHERE s.pre_id = $1 AND s.id = $2 GROUP BY s.id",
        pre_id,
        situation_id,
    )


async def referral_identities(
    conn: Conn, pre_id: str, situation_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.referral_id, r.institution_id, r.received_at, r.identity_enc, k.wrapped_key "
        "FROM situation_referrals r JOIN situations s ON s.id = r.situation_id "
        "LEFT JOIN subject_keys k ON k.subject_id = s.subject_id AND k.pre_id = s.pre_id "
        "WHERE r.pre_id = $1 AND r.situation_id = $2 ORDER BY r.received_at",
        pre_id,
        situation_id,
    )


async def subject_key(conn: Conn, pre_id: str, subject_id: uuid.UUID) -> bytes | None:
    key: bytes | None = await conn.fetchval(
        "SELECT wrapped_key FROM subject_keys WHERE pre_id = $1 AND subject_id = $2",
        pre_id,
        subject_id,
    )
    return key


async def insert_subject_key(
    conn: Conn, pre_id: str, subject_id: uuid.UUID, wrapped: bytes, master_kid: str
) -> None:
    await conn.execute(
        "INSERT INTO subject_keys (subject_id, pre_id, wrapped_key, master_kid) "
        "VALUES ($1, $2, $3, $4)",
        subject_id,
        pre_id,
        wrapped,
        master_kid,
    )


async def add_deadline(
    conn: Conn,
    pre_id: str,
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
        pre_id,
        situation_id,
        kind,
        handover_id,
        due_on,
    )


async def resolve_deadlines(
    conn: Conn, situation_id: uuid.UUID, kind: str, handover_id: uuid.UUID | None = None
) -> None:
    await conn.execute(
        "UPDATE deadlines SET resolved_at = now() WHERE situation_id = $1 AND kind = $2 "
        "AND ($3::uuid IS NULL OR handover_id = $3) AND resolved_at IS NULL",
        situation_id,
        kind,
        handover_id,
    )


async def list_partners(
    conn: Conn, pre_id: str, limit: int | None = None, offset: int = 0
) -> list[asyncpg.Record]:
    """The PRE's directory, by name; ``limit=None``: all of it (SQL in adapters.directory)."""
    rows, _ = await directory.entries(conn, pre_id, limit=limit, offset=offset)
    return rows


async def get_partner(conn: Conn, pre_id: str, partner_id: str) -> asyncpg.Record | None:
    return await directory.entry(conn, pre_id, partner_id)


# --- team reviews ---------------------------------------------------------------------------


async def insert_meeting(
    conn: Conn,
    meeting_id: uuid.UUID,
    pre_id: str,
    meets_on: date,
    attendees: list[dict[str, Any]],
    created_by: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO review_meetings (id, pre_id, meets_on, attendees, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        meeting_id,
        pre_id,
        meets_on,
        attendees,
        created_by,
        now,
    )


async def get_meeting(
    conn: Conn, pre_id: str, meeting_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM review_meetings WHERE pre_id = $1 AND id = $2"  # noqa: S608 - constant
        + (" FOR UPDATE" if lock else ""),
        pre_id,
        meeting_id,
    )


async def list_meetings(conn: Conn, pre_id: str, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM review_meetings WHERE pre_id = $1 ORDER BY meets_on DESC, created_at DESC "
        "LIMIT $2 OFFSET $3",
        pre_id,
        limit,
        offset,
    )


async def set_meeting_attendees(
    conn: Conn, meeting_id: uuid.UUID, attendees: list[dict[str, Any]]
) -> None:
    await conn.execute(
        "UPDATE review_meetings SET attendees = $2 WHERE id = $1", meeting_id, attendees
    )


async def agenda_length(conn: Conn, meeting_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT coalesce(max(position), 0) FROM review_agenda WHERE meeting_id = $1", meeting_id
    )
    return n


async def add_to_agenda(
    conn: Conn, meeting_id: uuid.UUID, situation_id: uuid.UUID, pre_id: str, position: int
) -> None:
    await conn.execute(
        "INSERT INTO review_agenda (meeting_id, situation_id, pre_id, position) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        meeting_id,
        situation_id,
        pre_id,
        position,
    )


async def on_agenda(conn: Conn, meeting_id: uuid.UUID, situation_id: uuid.UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM review_agenda WHERE meeting_id = $1 AND situation_id = $2)",
        meeting_id,
        situation_id,
    )
    return found


async def agenda(conn: Conn, meeting_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.situation_id, a.position, s.stage, s.review_due_on, s.referent_id, "
        "d.id AS decision_id, "
        "d.decision, d.decline_reason, d.redirected_to, d.redirect_category, d.axes, d.note, "
        "d.note_enc, d.decided_at, s.subject_id, k.wrapped_key "
        "FROM review_agenda a JOIN situations s ON s.id = a.situation_id "
        "LEFT JOIN subject_keys k ON k.pre_id = s.pre_id AND k.subject_id = s.subject_id "
        "LEFT JOIN review_decisions d "
        "ON d.situation_id = a.situation_id AND d.meeting_id = a.meeting_id "
        "WHERE a.meeting_id = $1 ORDER BY a.position",
        meeting_id,
    )


async def insert_decision(conn: Conn, values: dict[str, Any]) -> None:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO review_decisions ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )


async def set_stage_after_review(
    conn: Conn, situation_id: uuid.UUID, *, stage: str, started_on: date | None, axes: list[str]
) -> None:
    await conn.execute(
        "UPDATE situations SET stage = $2, started_on = $3, axes = $4 WHERE id = $1",
        situation_id,
        stage,
        started_on,
        axes,
    )


# --- référents ------------------------------------------------------------------------------


async def upsert_referent(conn: Conn, values: dict[str, Any]) -> int | None:
    """Insert or update; the entry's new version, or None when the id belongs to another
    PRE or the login is taken."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO referents (id, pre_id, user_sub, display_name, caseload_limit, active, "
            "version) VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (id) DO UPDATE SET "
            "user_sub = $3, display_name = $4, caseload_limit = $5, active = $6, "
            "version = referents.version + 1 WHERE referents.pre_id = $2 RETURNING version",
            values["id"],
            values["pre_id"],
            values["user_sub"],
            values["display_name"],
            values["caseload_limit"],
            values["active"],
        )
    except asyncpg.UniqueViolationError:
        return None
    return None if row is None else int(row["version"])


async def get_referent(conn: Conn, pre_id: str, referent_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referents WHERE pre_id = $1 AND id = $2", pre_id, referent_id
    )


async def lock_referent(conn: Conn, referent_id: uuid.UUID) -> None:
    await conn.execute("SELECT 1 FROM referents WHERE id = $1 FOR UPDATE", referent_id)


async def list_referents(
    conn: Conn, pre_id: str, limit: int | None = None, offset: int = 0
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.*, (SELECT count(*) FROM situations s WHERE s.referent_id = r.id "
        "AND s.stage = 'in_parcours') AS caseload "
        "FROM referents r WHERE r.pre_id = $1 ORDER BY r.display_name, r.id LIMIT $2 OFFSET $3",
        pre_id,
        limit,
        offset,
    )


async def caseload(conn: Conn, pre_id: str, referent_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM situations WHERE pre_id = $1 AND referent_id = $2 "
        "AND stage = 'in_parcours'",
        pre_id,
        referent_id,
    )
    return n


async def end_assignment(conn: Conn, situation_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE referent_assignments SET ended_at = $2 "
        "WHERE situation_id = $1 AND ended_at IS NULL",
        situation_id,
        now,
    )


async def insert_assignment(
    conn: Conn,
    *,
    situation_id: uuid.UUID,
    pre_id: str,
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
        pre_id,
        referent_id,
        assigned_at,
        assigned_by,
        over_limit,
        override_reason_enc,
    )


async def set_referent(conn: Conn, situation_id: uuid.UUID, referent_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE situations SET referent_id = $2 WHERE id = $1", situation_id, referent_id
    )


async def assignments(conn: Conn, pre_id: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.referent_id, r.display_name, a.assigned_at, a.assigned_by, a.ended_at, "
        "a.over_limit, a.override_reason, a.override_reason_enc, s.subject_id, k.wrapped_key "
        "FROM referent_assignments a "
        "JOIN referents r ON r.id = a.referent_id "
        "JOIN situations s ON s.id = a.situation_id "
        "LEFT JOIN subject_keys k ON k.pre_id = s.pre_id AND k.subject_id = s.subject_id "
        "WHERE a.pre_id = $1 AND a.situation_id = $2 ORDER BY a.assigned_at",
        pre_id,
        situation_id,
    )


async def set_pre_limits(
    conn: Conn, pre_id: str, caseload_limit: int | None, max_duration_months: int | None
) -> None:
    await conn.execute(
        "INSERT INTO pre_settings (pre_id, caseload_limit, max_duration_months) "
        "VALUES ($1, $2, $3) ON CONFLICT (pre_id) DO UPDATE SET caseload_limit = $2, "
        "max_duration_months = $3",
        pre_id,
        caseload_limit,
        max_duration_months,
    )


# --- consent ----------------------------------------------------------------------------------


async def insert_consent(conn: Conn, values: dict[str, Any]) -> None:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO consents ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )


async def active_consent(conn: Conn, situation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM consents WHERE situation_id = $1 AND status = 'active' FOR UPDATE",
        situation_id,
    )


async def consents_in_force_read(
    conn: Conn, situation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """The active consent of each situation, for a read (no lock): situation id -> consent."""
    rows = await conn.fetch(
        "SELECT situation_id, status, valid_until, scope FROM consents "
        "WHERE situation_id = ANY($1::uuid[]) AND status = 'active'",
        situation_ids,
    )
    return {r["situation_id"]: r for r in rows}


async def get_consent(
    conn: Conn, pre_id: str, situation_id: uuid.UUID, consent_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM consents WHERE pre_id = $1 AND situation_id = $2 AND id = $3 FOR UPDATE",
        pre_id,
        situation_id,
        consent_id,
    )


async def list_consents(conn: Conn, pre_id: str, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM consents WHERE pre_id = $1 AND situation_id = $2 "
        "ORDER BY given_at, ended_at IS NULL, ended_at",
        pre_id,
        situation_id,
    )


async def end_consent(
    conn: Conn, consent_id: uuid.UUID, status: str, now: datetime, withdrawn_by: str | None
) -> None:
    await conn.execute(
        "UPDATE consents SET status = $2, ended_at = $3, withdrawn_by = $4 WHERE id = $1",
        consent_id,
        status,
        now,
        withdrawn_by,
    )


async def claim_expired_consents(conn: Conn, today: date, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT c.id, c.situation_id, c.pre_id, c.valid_until, s.subject_id "
        "FROM consents c JOIN situations s ON s.id = c.situation_id "
        "WHERE c.status = 'active' AND c.valid_until < $1 "
        "ORDER BY c.valid_until LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
        today,
        limit,
    )


# --- handovers --------------------------------------------------------------------------------

_HANDOVER_COLUMNS = "h.*, s.subject_id"


async def open_handovers(conn: Conn, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_HANDOVER_COLUMNS} FROM handovers h JOIN situations s ON s.id = h.situation_id "  # noqa: S608 - constant
        "WHERE h.situation_id = $1 AND h.status IN ('requested', 'accepted', 'waitlisted') "
        "FOR UPDATE OF h",
        situation_id,
    )


async def cancel_handover(conn: Conn, handover_id: uuid.UUID, reason: str, now: datetime) -> int:
    version: int = await conn.fetchval(
        "UPDATE handovers SET status = 'cancelled', cancel_reason = $2, ended_at = $3, "
        "version = version + 1 WHERE id = $1 RETURNING version",
        handover_id,
        reason,
        now,
    )
    return version


# --- plan -------------------------------------------------------------------------------------


async def bump_plan_version(conn: Conn, situation_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        "UPDATE situations SET plan_version = plan_version + 1 WHERE id = $1 "
        "RETURNING plan_version",
        situation_id,
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
        "INSERT INTO plan_objectives (id, situation_id, pre_id, axis, title, status, target_on, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7)",
        objective_id,
        situation_id,
        pre_id,
        values["axis"],
        values["title"],
        values.get("target_on"),
        now,
    )


async def get_objective(
    conn: Conn, situation_id: uuid.UUID, objective_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM plan_objectives WHERE situation_id = $1 AND id = $2",
        situation_id,
        objective_id,
    )


async def insert_action(
    conn: Conn, action_id: uuid.UUID, objective: Any, values: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO plan_actions (id, objective_id, situation_id, pre_id, axis, title, status, "
        "starts_on, ends_on, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7, $8, $9, $9)",
        action_id,
        objective["id"],
        objective["situation_id"],
        objective["pre_id"],
        objective["axis"],
        values["title"],
        values.get("starts_on"),
        values.get("ends_on"),
        now,
    )


_PLAN_COLUMNS = {
    "plan_objectives": ("title", "status", "target_on"),
    "plan_actions": ("title", "status", "starts_on", "ends_on"),
}


async def update_plan_item(
    conn: Conn,
    table: str,
    item_id: uuid.UUID,
    situation_id: uuid.UUID,
    changes: dict[str, Any],
    now: datetime,
) -> bool:
    columns = [c for c in _PLAN_COLUMNS[table] if c in changes]  # a fixed allow-list
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=4))
    row = await conn.fetchrow(
        f"UPDATE {table} SET updated_at = $3{', ' + sets if sets else ''} "  # noqa: S608 - allow-listed names
        "WHERE id = $1 AND situation_id = $2 RETURNING id",
        item_id,
        situation_id,
        now,
        *(changes[c] for c in columns),
    )
    return row is not None


async def get_action(
    conn: Conn, situation_id: uuid.UUID, action_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM plan_actions WHERE situation_id = $1 AND id = $2", situation_id, action_id
    )


async def plan_counts(conn: Conn, situation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT 'objective' AS kind, axis, status, count(*)::int AS n, 0 AS with_partner "
        "FROM plan_objectives WHERE situation_id = $1 GROUP BY axis, status "
        "UNION ALL "
        "SELECT 'action', a.axis, a.status, count(*)::int, "
        "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM handovers h WHERE h.action_id = a.id "
        "AND h.status NOT IN ('declined', 'cancelled')))::int "
        "FROM plan_actions a WHERE a.situation_id = $1 GROUP BY a.axis, a.status",
        situation_id,
    )


async def plan(
    conn: Conn, situation_id: uuid.UUID
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    objectives = await conn.fetch(
        "SELECT * FROM plan_objectives WHERE situation_id = $1 ORDER BY created_at", situation_id
    )
    actions = await conn.fetch(
        "SELECT a.*, (SELECT h.id FROM handovers h WHERE h.action_id = a.id "
        "ORDER BY h.requested_at DESC LIMIT 1) AS handover_id "
        "FROM plan_actions a WHERE a.situation_id = $1 ORDER BY a.created_at",
        situation_id,
    )
    return objectives, actions


async def open_handover_for(conn: Conn, action_id: uuid.UUID, partner_id: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM handovers WHERE action_id = $1 AND partner_id = $2 "
        "AND status IN ('requested', 'accepted', 'waitlisted'))",
        action_id,
        partner_id,
    )
    return found


async def insert_handover(conn: Conn, values: dict[str, Any]) -> None:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO handovers ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608 - our own column names
        *values.values(),
    )


async def get_handover(
    conn: Conn, pre_id: str, handover_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_HANDOVER_COLUMNS} FROM handovers h JOIN situations s ON s.id = h.situation_id "  # noqa: S608 - constant
        "WHERE h.pre_id = $1 AND h.id = $2" + (" FOR UPDATE OF h" if lock else ""),
        pre_id,
        handover_id,
    )


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


async def update_handover(conn: Conn, handover_id: uuid.UUID, changes: dict[str, Any]) -> int:
    columns = [c for c in changes if c in _HANDOVER_UPDATABLE]
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    version: int = await conn.fetchval(
        f"UPDATE handovers SET {sets}, version = version + 1 WHERE id = $1 RETURNING version",  # noqa: S608 - allow-listed names
        handover_id,
        *(changes[c] for c in columns),
    )
    return version


async def list_handovers(
    conn: Conn,
    pre_id: str,
    *,
    partner_id: str | None,
    situation_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    offset: int,
    referent_id: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT h.id, h.situation_id, h.action_id, h.partner_id, h.referent_id, h.consent_id, "
        "h.data_categories, h.status, h.requested_at, h.response_due_on, h.responded_at, "
        "h.decline_reason, h.expected_start_on, h.starts_on, h.outcome, h.ended_at, "
        "h.cancel_reason, a.axis, a.title AS action_title "
        "FROM handovers h JOIN plan_actions a ON a.id = h.action_id "
        "WHERE h.pre_id = $1 AND ($2::text IS NULL OR h.partner_id = $2) "
        "AND ($3::uuid IS NULL OR h.situation_id = $3) AND ($4::text IS NULL OR h.status = $4) "
        "AND ($7::uuid IS NULL OR h.situation_id IN "
        "(SELECT id FROM situations WHERE referent_id = $7)) "
        "ORDER BY h.requested_at DESC LIMIT $5 OFFSET $6",
        pre_id,
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
    pre_id: str,
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
        pre_id,
        handover_id,
        partner_id,
        reader_sub,
        data_categories,
        read_at,
    )


async def disclosures(
    conn: Conn, pre_id: str, situation_id: uuid.UUID, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.read_at, d.partner_id, p.name AS partner_name, d.reader_sub, "
        "d.data_categories, d.handover_id FROM disclosures d "
        "LEFT JOIN partners p ON p.id = d.partner_id "
        "WHERE d.pre_id = $1 AND d.situation_id = $2 ORDER BY d.read_at LIMIT $3 OFFSET $4",
        pre_id,
        situation_id,
        limit,
        offset,
    )


async def pre_limits(conn: Conn, pre_id: str) -> dict[str, int | None]:
    row = await conn.fetchrow(
        "SELECT caseload_limit, max_duration_months FROM pre_settings WHERE pre_id = $1", pre_id
    )
    if row is None:
        return {"caseload_limit": None, "max_duration_months": None}
    return dict(row)


async def referent_by_sub(conn: Conn, pre_id: str, user_sub: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referents WHERE pre_id = $1 AND user_sub = $2 AND active",
        pre_id,
        user_sub,
    )


async def claim_due_deadlines(conn: Conn, today: date, limit: int) -> list[asyncpg.Record]:
    """Deadlines past due (the follow-up: due today), locked; other replicas skip them."""
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


async def mark_deadline_fired(conn: Conn, deadline_id: uuid.UUID, now: datetime) -> None:
    await conn.execute("UPDATE deadlines SET fired_at = $2 WHERE id = $1", deadline_id, now)


# --- closure and follow-up --------------------------------------------------------------------


async def close_situation(
    conn: Conn,
    situation_id: uuid.UUID,
    *,
    closed_at: datetime,
    exit_reason: str,
    exit_reason_text: str | None,
    final_review_held: bool,
    followup_due_on: date,
) -> None:
    await conn.execute(
        "UPDATE situations SET stage = 'closed', closed_at = $2, exit_reason = $3, "
        "exit_reason_text = $4, final_review_held = $5, followup_due_on = $6 WHERE id = $1",
        situation_id,
        closed_at,
        exit_reason,
        exit_reason_text,
        final_review_held,
        followup_due_on,
    )


async def insert_followup(
    conn: Conn,
    followup_id: uuid.UUID,
    situation_id: uuid.UUID,
    pre_id: str,
    outcome: str,
    held_on: date,
    recorded_by: str,
    now: datetime,
) -> bool:
    row = await conn.fetchrow(
        "INSERT INTO followups (id, situation_id, pre_id, outcome, held_on, recorded_by, "
        "recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (situation_id) DO NOTHING RETURNING id",
        followup_id,
        situation_id,
        pre_id,
        outcome,
        held_on,
        recorded_by,
        now,
    )
    return row is not None


async def withdraw_referral(
    conn: Conn, pre_id: str, referral_id: uuid.UUID, withdrawn_at: datetime
) -> uuid.UUID | None:
    situation_id: uuid.UUID | None = await conn.fetchval(
        "UPDATE situation_referrals SET withdrawn_at = $3, identity_enc = NULL, "
        "interpreter_needed = NULL "
        "WHERE pre_id = $1 AND referral_id = $2 AND withdrawn_at IS NULL RETURNING situation_id",
        pre_id,
        referral_id,
        withdrawn_at,
    )
    return situation_id


async def live_referrals(conn: Conn, situation_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM situation_referrals WHERE situation_id = $1 AND withdrawn_at IS NULL",
        situation_id,
    )
    return n


async def reopen_for_review(conn: Conn, situation_id: uuid.UUID, review_due_on: date) -> None:
    await conn.execute(
        "UPDATE situations SET stage = 'awaiting_review', review_due_on = $2 WHERE id = $1",
        situation_id,
        review_due_on,
    )


async def set_stage(conn: Conn, situation_id: uuid.UUID, stage: str) -> None:
    await conn.execute("UPDATE situations SET stage = $2 WHERE id = $1", situation_id, stage)


async def erase_subject(
    conn: Conn,
    pre_id: str,
    subject_id: uuid.UUID,
    situation_id: uuid.UUID,
    now: datetime,
    reason: str,
) -> None:
    """Crypto-erase the identity and clear every text written about the child."""
    await conn.execute(
        "DELETE FROM subject_keys WHERE pre_id = $1 AND subject_id = $2", pre_id, subject_id
    )
    await conn.execute(
        "UPDATE situation_referrals SET identity_enc = NULL, sealed = NULL, "
        "interpreter_needed = NULL WHERE situation_id = $1",
        situation_id,
    )
    await conn.execute("UPDATE handovers SET message = NULL WHERE situation_id = $1", situation_id)
    # Unreadable already without the key; the clear columns of rows from before issue 15 too.
    await conn.execute(
        "UPDATE review_decisions SET note = NULL, note_enc = NULL WHERE situation_id = $1",
        situation_id,
    )
    await conn.execute(
        "UPDATE referent_assignments SET override_reason = NULL, override_reason_enc = NULL "
        "WHERE situation_id = $1",
        situation_id,
    )
    for table in ("plan_objectives", "plan_actions"):
        await conn.execute(
            f"UPDATE {table} SET title = '[effacé]' WHERE situation_id = $1",  # noqa: S608 - constant names
            situation_id,
        )
    await conn.execute(
        "UPDATE consents SET guardians = '[]', sole_guardian_reason = NULL, witness = NULL, "
        "withdrawn_by = NULL WHERE situation_id = $1",
        situation_id,
    )
    await conn.execute(
        "UPDATE situations SET stage = 'erased', erased_at = $2, erasure_reason = $3, "
        "exit_reason_text = NULL WHERE id = $1",
        situation_id,
        now,
        reason,
    )
    await conn.execute(
        "UPDATE deadlines SET resolved_at = $2 WHERE situation_id = $1 AND resolved_at IS NULL",
        situation_id,
        now,
    )


async def claim_sealed_referrals(conn: Conn, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.referral_id, r.pre_id, r.sealed, s.subject_id FROM situation_referrals r "
        "JOIN situations s ON s.id = r.situation_id "
        "WHERE r.sealed IS NOT NULL AND r.identity_enc IS NULL AND r.withdrawn_at IS NULL "
        "LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
        limit,
    )


async def set_identity(
    conn: Conn, referral_id: uuid.UUID, identity_enc: bytes, interpreter_needed: bool
) -> None:
    await conn.execute(
        "UPDATE situation_referrals SET identity_enc = $2, sealed = NULL, "
        "interpreter_needed = $3 WHERE referral_id = $1",
        referral_id,
        identity_enc,
        interpreter_needed,
    )


async def claim_unflagged_referrals(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Identities stored before « interprète à prévoir » was kept beside them."""
    return await conn.fetch(
        "SELECT r.referral_id, r.identity_enc, s.subject_id, k.wrapped_key "
        "FROM situation_referrals r JOIN situations s ON s.id = r.situation_id "
        "LEFT JOIN subject_keys k ON k.subject_id = s.subject_id AND k.pre_id = s.pre_id "
        "WHERE r.interpreter_needed IS NULL AND r.identity_enc IS NOT NULL "
        "LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
        limit,
    )


async def set_interpreter_needed(conn: Conn, referral_id: uuid.UUID, needed: bool) -> None:
    await conn.execute(
        "UPDATE situation_referrals SET interpreter_needed = $2 WHERE referral_id = $1",
        referral_id,
        needed,
    )


async def idempotency_lookup(
    conn: Conn, pre_id: str, principal: str, key: str
) -> asyncpg.Record | None:
    # Serialise two concurrent requests with the same key on a transaction-scoped lock.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2 || '/' || $3))",
        pre_id,
        principal,
        key,
    )
    return await conn.fetchrow(
        "SELECT scope, result_id FROM idempotency_keys "
        "WHERE pre_id = $1 AND principal = $2 AND key = $3",
        pre_id,
        principal,
        key,
    )


async def idempotency_store(
    conn: Conn, pre_id: str, principal: str, key: str, scope: str, result_id: uuid.UUID
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (pre_id, principal, key, scope, result_id) "
        "VALUES ($1, $2, $3, $4, $5)",
        pre_id,
        principal,
        key,
        scope,
        result_id,
    )
