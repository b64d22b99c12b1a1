"""SQL of situations: a child's files, their referrals, keys, stage, closure and erasure.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from relais_contracts.types import DeadlineKind
from relais_parcours.service.ports import ReceivedReferral
from relais_runtime.db import Conn

_SITUATION_COLUMNS = (
    "s.id, s.pre_id, s.subject_id, s.stage, s.version, s.opened_at, s.review_due_on, s.started_on, "
    "s.axes, s.referent_id, s.plan_version, s.closed_at, s.exit_reason, s.exit_reason_text, "
    "s.exit_reason_text_enc, s.final_review_held, s.followup_due_on, s.previous_situation_id, "
    "array_agg(r.referral_id ORDER BY r.received_at) AS referral_ids, "
    "array_agg(DISTINCT r.institution_id) AS institution_ids, "
    "jsonb_agg(r.facts ORDER BY r.received_at) AS facts, "
    "coalesce(bool_or(r.interpreter_needed) FILTER (WHERE r.withdrawn_at IS NULL), false) "
    "AS interpreter_needed"
)


async def latest_with_key(
    conn: Conn, tenant: str, subject_id: uuid.UUID
) -> tuple[asyncpg.Record | None, bytes | None]:
    """The child's most recent situation, locked (earlier ones are finished or erased), and
    its wrapped data key, in one round trip: a referral received needs both."""
    row = await conn.fetchrow(
        "SELECT k.wrapped_key, s.* FROM (SELECT 1) one "
        "LEFT JOIN subject_keys k ON k.pre_id = $1 AND k.subject_id = $2 "
        "LEFT JOIN LATERAL (SELECT * FROM situations WHERE pre_id = $1 AND subject_id = $2 "
        "ORDER BY opened_at DESC LIMIT 1 FOR UPDATE) s ON true",
        tenant,
        subject_id,
    )
    assert row is not None  # one row, whatever the child
    return (row if row["id"] is not None else None), row["wrapped_key"]


async def situations_of_subject(
    conn: Conn, tenant: str, subject_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every situation of the child, oldest first, locked."""
    return await conn.fetch(
        "SELECT id, stage FROM situations WHERE pre_id = $1 AND subject_id = $2 "
        "ORDER BY opened_at FOR UPDATE",
        tenant,
        subject_id,
    )


async def receive_referral(conn: Conn, r: ReceivedReferral) -> int:
    """Everything a referral received writes, in one statement (one round trip instead of
    up to six): the child's key on its first use, the situation opened or reopened, its
    review deadline, the referral attached, the situation's version (returned)."""
    args: list[Any] = []

    def p(value: Any) -> str:
        """A placeholder for ``value`` (only the values a statement uses are sent)."""
        args.append(value)
        return f"${len(args)}"

    sid, tenant, subject = p(r.situation_id), p(r.tenant), p(r.subject_id)
    due = p(r.review_due_on) if r.opens or r.reopens else ""
    steps = []
    if r.new_key is not None:
        steps.append(
            "INSERT INTO subject_keys (subject_id, pre_id, wrapped_key, master_kid) "  # noqa: S608
            f"VALUES ({subject}, {tenant}, {p(r.new_key)}, {p(r.master_kid)})"
        )
    if r.opens:
        steps.append(
            "INSERT INTO situations (id, pre_id, subject_id, stage, version, opened_at, "  # noqa: S608
            "review_due_on, previous_situation_id) VALUES "
            f"({sid}, {tenant}, {subject}, 'awaiting_review', 1, {p(r.received_at)}, {due}, "
            f"{p(r.previous_situation_id)})"
        )
    if r.opens or r.reopens:
        steps.append(
            "INSERT INTO deadlines (id, pre_id, situation_id, kind, handover_id, due_on) "  # noqa: S608
            f"VALUES ({p(uuid.uuid4())}, {tenant}, {sid}, {p(DeadlineKind.REVIEW.value)}, NULL, "
            f"{due})"
        )
    steps.append(
        "INSERT INTO situation_referrals (referral_id, situation_id, pre_id, institution_id, "  # noqa: S608
        f"facts, identity_enc, received_at, interpreter_needed) VALUES ({p(r.referral_id)}, "
        f"{sid}, {tenant}, {p(r.institution_id)}, {p(r.facts)}, {p(r.identity_enc)}, "
        f"{p(r.received_at)}, {p(r.interpreter_needed)})"
    )
    if r.opens:
        last = "SELECT 1::int"
    else:
        reopen = f", stage = 'awaiting_review', review_due_on = {due}" if r.reopens else ""
        last = (
            f"UPDATE situations SET version = version + 1{reopen} "  # noqa: S608 - placeholders
            f"WHERE id = {sid} AND pre_id = {tenant} AND subject_id = {subject} RETURNING version"
        )
    ctes = ", ".join(f"w{n} AS ({step})" for n, step in enumerate(steps))
    version: int | None = await conn.fetchval(f"WITH {ctes} {last}", *args)
    if version is None:
        raise LookupError("the situation a referral joins is not the PRE's, nor the child's")
    return version


async def bump_version(conn: Conn, tenant: str, situation_id: uuid.UUID) -> int:
    version: int = await conn.fetchval(
        "UPDATE situations SET version = version + 1 WHERE id = $1 AND pre_id = $2 "
        "RETURNING version",
        situation_id,
        tenant,
    )
    return version


async def attach_referral(
    conn: Conn,
    *,
    referral_id: uuid.UUID,
    situation_id: uuid.UUID,
    tenant: str,
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
        tenant,
        institution_id,
        facts,
        identity_enc,
        received_at,
        interpreter_needed,
    )


async def list_situations(
    conn: Conn,
    tenant: str,
    *,
    stage: str | None,
    referent_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_SITUATION_COLUMNS} "  # noqa: S608 - a constant column list
        "FROM situations s "
        "JOIN situation_referrals r ON r.pre_id = s.pre_id AND r.situation_id = s.id "
        "WHERE s.pre_id = $1 AND ($2::text IS NULL OR s.stage = $2) "
        "AND ($3::uuid IS NULL OR s.referent_id = $3) "
        "GROUP BY s.id ORDER BY s.opened_at DESC LIMIT $4 OFFSET $5",
        tenant,
        stage,
        referent_id,
        limit,
        offset,
    )


async def get_situation(
    conn: Conn, tenant: str, situation_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:  # serialise changes to one situation (version = event sequence)
        await conn.execute(
            "SELECT 1 FROM situations WHERE pre_id = $1 AND id = $2 FOR UPDATE",
            tenant,
            situation_id,
        )
    return await conn.fetchrow(
        f"SELECT {_SITUATION_COLUMNS} "  # noqa: S608 - a constant column list
        "FROM situations s "
        "JOIN situation_referrals r ON r.pre_id = s.pre_id AND r.situation_id = s.id "
        "WHERE s.pre_id = $1 AND s.id = $2 GROUP BY s.id",
        tenant,
        situation_id,
    )


async def referral_identities(
    conn: Conn, tenant: str, situation_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.referral_id, r.institution_id, r.received_at, r.identity_enc, k.wrapped_key "
        "FROM situation_referrals r "
        "JOIN situations s ON s.pre_id = r.pre_id AND s.id = r.situation_id "
        "LEFT JOIN subject_keys k ON k.subject_id = s.subject_id AND k.pre_id = s.pre_id "
        "WHERE r.pre_id = $1 AND r.situation_id = $2 ORDER BY r.received_at",
        tenant,
        situation_id,
    )


async def subject_key(conn: Conn, tenant: str, subject_id: uuid.UUID) -> bytes | None:
    key: bytes | None = await conn.fetchval(
        "SELECT wrapped_key FROM subject_keys WHERE pre_id = $1 AND subject_id = $2",
        tenant,
        subject_id,
    )
    return key


async def insert_subject_key(
    conn: Conn, tenant: str, subject_id: uuid.UUID, wrapped: bytes, master_kid: str
) -> None:
    await conn.execute(
        "INSERT INTO subject_keys (subject_id, pre_id, wrapped_key, master_kid) "
        "VALUES ($1, $2, $3, $4)",
        subject_id,
        tenant,
        wrapped,
        master_kid,
    )


async def set_stage_after_review(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    *,
    stage: str,
    started_on: date | None,
    axes: list[str],
) -> None:
    await conn.execute(
        "UPDATE situations SET stage = $2, started_on = $3, axes = $4 WHERE id = $1 "
        "AND pre_id = $5",
        situation_id,
        stage,
        started_on,
        axes,
        tenant,
    )


async def set_referent(
    conn: Conn, tenant: str, situation_id: uuid.UUID, referent_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE situations SET referent_id = $2 WHERE id = $1 AND pre_id = $3",
        situation_id,
        referent_id,
        tenant,
    )


async def close_situation(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    *,
    closed_at: datetime,
    exit_reason: str,
    exit_reason_text_enc: bytes | None,
    final_review_held: bool,
    followup_due_on: date,
) -> None:
    """Close the situation; the reason in words is sealed under the child's key."""
    await conn.execute(
        "UPDATE situations SET stage = 'closed', closed_at = $2, exit_reason = $3, "
        "exit_reason_text_enc = $4, final_review_held = $5, followup_due_on = $6 WHERE id "
        "= $1 AND pre_id = $7",
        situation_id,
        closed_at,
        exit_reason,
        exit_reason_text_enc,
        final_review_held,
        followup_due_on,
        tenant,
    )


async def insert_followup(
    conn: Conn,
    followup_id: uuid.UUID,
    situation_id: uuid.UUID,
    tenant: str,
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
        tenant,
        outcome,
        held_on,
        recorded_by,
        now,
    )
    return row is not None


async def withdraw_referral(
    conn: Conn, tenant: str, referral_id: uuid.UUID, withdrawn_at: datetime
) -> uuid.UUID | None:
    situation_id: uuid.UUID | None = await conn.fetchval(
        "UPDATE situation_referrals SET withdrawn_at = $3, identity_enc = NULL, "
        "interpreter_needed = NULL "
        "WHERE pre_id = $1 AND referral_id = $2 AND withdrawn_at IS NULL RETURNING situation_id",
        tenant,
        referral_id,
        withdrawn_at,
    )
    return situation_id


async def live_referrals(conn: Conn, tenant: str, situation_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM situation_referrals WHERE pre_id = $2 AND situation_id "
        "= $1 AND withdrawn_at IS NULL",
        situation_id,
        tenant,
    )
    return n


async def set_stage(conn: Conn, tenant: str, situation_id: uuid.UUID, stage: str) -> None:
    await conn.execute(
        "UPDATE situations SET stage = $2 WHERE id = $1 AND pre_id = $3",
        situation_id,
        stage,
        tenant,
    )


async def erase_subject(
    conn: Conn,
    tenant: str,
    subject_id: uuid.UUID,
    situation_id: uuid.UUID,
    now: datetime,
    reason: str,
) -> None:
    """Crypto-erase the identity and clear every text written about the child."""
    await conn.execute(
        "DELETE FROM subject_keys WHERE pre_id = $1 AND subject_id = $2", tenant, subject_id
    )
    for statement in _ERASURE:
        await conn.execute(statement, tenant, situation_id)
    await conn.execute(
        "UPDATE situations SET stage = 'erased', erased_at = $3, erasure_reason = $4, "
        "exit_reason_text = NULL, exit_reason_text_enc = NULL WHERE pre_id = $1 AND id = $2",
        tenant,
        situation_id,
        now,
        reason,
    )
    await conn.execute(
        "UPDATE deadlines SET resolved_at = $3 WHERE pre_id = $1 AND situation_id = $2 "
        "AND resolved_at IS NULL",
        tenant,
        situation_id,
        now,
    )


#: What erasure clears of one situation beside its key; parameters: the PRE, the situation.
_ERASURE = (
    "UPDATE situation_referrals SET identity_enc = NULL, sealed = NULL, "
    "interpreter_needed = NULL WHERE pre_id = $1 AND situation_id = $2",
    "UPDATE handovers SET message = NULL, message_enc = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
    # Unreadable already without the key; the clear columns of rows from before issue 15 too.
    "UPDATE review_decisions SET note = NULL, note_enc = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
    "UPDATE referent_assignments SET override_reason = NULL, override_reason_enc = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
    "UPDATE plan_objectives SET title = NULL, title_enc = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
    "UPDATE plan_actions SET title = NULL, title_enc = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
    "UPDATE consents SET guardians = '[]', sole_guardian_reason = NULL, witness = NULL, "
    "sole_guardian_reason_enc = NULL, witness_enc = NULL, withdrawn_by = NULL "
    "WHERE pre_id = $1 AND situation_id = $2",
)


async def claim_sealed_referrals(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Identities still stored as JWE, across PREs (a sweep: the sweep role only)."""
    return await conn.fetch(
        "SELECT r.referral_id, r.pre_id, r.sealed, s.subject_id FROM situation_referrals r "
        "JOIN situations s ON s.pre_id = r.pre_id AND s.id = r.situation_id "
        "WHERE r.sealed IS NOT NULL AND r.identity_enc IS NULL AND r.withdrawn_at IS NULL "
        "LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
        limit,
    )


async def set_identity(
    conn: Conn, tenant: str, referral_id: uuid.UUID, identity_enc: bytes, interpreter_needed: bool
) -> None:
    await conn.execute(
        "UPDATE situation_referrals SET identity_enc = $2, sealed = NULL, "
        "interpreter_needed = $4 WHERE referral_id = $1 AND pre_id = $3",
        referral_id,
        identity_enc,
        tenant,
        interpreter_needed,
    )


async def claim_unflagged_referrals(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Identities stored before « interprète à prévoir » was kept beside them, across PREs
    (a sweep: the sweep role only)."""
    return await conn.fetch(
        "SELECT r.referral_id, r.pre_id, r.identity_enc, s.subject_id, k.wrapped_key "
        "FROM situation_referrals r "
        "JOIN situations s ON s.pre_id = r.pre_id AND s.id = r.situation_id "
        "LEFT JOIN subject_keys k ON k.subject_id = s.subject_id AND k.pre_id = s.pre_id "
        "WHERE r.interpreter_needed IS NULL AND r.identity_enc IS NOT NULL "
        "LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
        limit,
    )


async def set_interpreter_needed(
    conn: Conn, tenant: str, referral_id: uuid.UUID, needed: bool
) -> None:
    await conn.execute(
        "UPDATE situation_referrals SET interpreter_needed = $2 "
        "WHERE referral_id = $1 AND pre_id = $3",
        referral_id,
        needed,
        tenant,
    )
