"""Use cases of the end of a parcours: closure with an exit reason, the six-month follow-up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from relais_contracts.types import DeadlineKind, ExitReason, FollowupOutcome, HandoverCancelReason
from relais_parcours.adapters import deadlines_repo, handovers_repo, referents_repo, situations_repo
from relais_parcours.adapters.unit_of_work import PgParcoursWork
from relais_parcours.context import Parcours
from relais_parcours.domain.situation import Situation, followup_held
from relais_parcours.service import access, access_log, child_texts, family_notices, tenancy
from relais_parcours.service.dates import pre_day
from relais_parcours.service.handovers import cancel_handovers
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime


async def close(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    exit_reason: ExitReason,
    exit_reason_text: str | None,
    final_review_held: bool,
) -> list[str]:
    """Close the parcours; returns warnings (a parcours past the maximum duration)."""
    now = datetime.now(UTC)
    today = pre_day(ctx, now)
    async with tenancy.scoped(runtime, who.tenant) as conn:
        row = await access.situation_for(conn, who, situation_id, lock=True)
        limits = await referents_repo.pre_limits(conn, who.tenant)
        closure = Situation.of(row).close(
            exit_reason=exit_reason,
            final_review_held=final_review_held,
            now=now,
            today=today,
            followup_after_months=ctx.settings.followup_after_months,
            max_months=limits["max_duration_months"] or ctx.settings.max_duration_months,
        )
        await cancel_handovers(
            PgParcoursWork.on(conn, source=runtime.source),
            await handovers_repo.open_handovers(conn, who.tenant, situation_id),
            HandoverCancelReason.PARCOURS_CLOSED,
            now,
            who=who,
            purpose=access_log.TEAM_FOLLOW_UP,
        )
        due = closure.followup_due_on
        await access_log.change(
            conn,
            who,
            "situation",
            situation_id,
            situation_id,
            access_log.closure_groups(with_text=exit_reason_text is not None),
            access_log.TEAM_FOLLOW_UP,
        )
        await situations_repo.close_situation(
            conn,
            who.tenant,
            situation_id,
            closed_at=now,
            exit_reason=exit_reason.value,
            exit_reason_text_enc=await child_texts.seal(
                conn, ctx, who.tenant, row["subject_id"], exit_reason_text
            ),
            final_review_held=final_review_held,
            followup_due_on=due,
        )
        await deadlines_repo.add_deadline(
            conn, who.tenant, situation_id, DeadlineKind.FOLLOWUP.value, due, handover_id=None
        )
        await family_notices.notify(
            conn,
            ctx,
            row,
            "followup_planned",
            {"date": due.isoformat()},
            dedupe_key=due.isoformat(),
        )
        version = await situations_repo.bump_version(conn, who.tenant, situation_id)
        await runtime.emit(
            conn, closure.event, subject=str(situation_id), tenant=who.tenant, sequence=version
        )
    return [closure.warning] if closure.warning else []


async def record_followup(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    outcome: FollowupOutcome,
    held_on: date,
) -> uuid.UUID:
    now = datetime.now(UTC)
    followup_held(held_on, pre_day(ctx, now))
    followup_id = uuid.uuid4()
    async with tenancy.scoped(runtime, who.tenant) as conn:
        row = await access.situation_for(conn, who, situation_id, lock=True)
        event = Situation.of(row).record_followup(
            followup_id, outcome=outcome, held_on=held_on, timezone=ctx.settings.timezone, now=now
        )
        await access_log.change(
            conn,
            who,
            "followup",
            followup_id,
            situation_id,
            access_log.FOLLOWUP,
            access_log.TEAM_FOLLOW_UP,
        )
        if not await situations_repo.insert_followup(
            conn, followup_id, situation_id, who.tenant, outcome.value, held_on, who.sub, now
        ):
            raise DomainError("followup_already_recorded", "Le suivi a déjà été enregistré.")
        await deadlines_repo.resolve_deadlines(
            conn, who.tenant, situation_id, DeadlineKind.FOLLOWUP.value
        )
        version = await situations_repo.bump_version(conn, who.tenant, situation_id)
        await runtime.emit(
            conn, event, subject=str(situation_id), tenant=who.tenant, sequence=version
        )
    return followup_id


async def followup_due_on(runtime: ServiceRuntime, who: Principal, situation_id: uuid.UUID) -> date:
    """The day the follow-up of a closed parcours is due."""
    async with tenancy.scoped(runtime, who.tenant) as conn:
        situation = await access.situation_for(conn, who, situation_id)
    due: date = situation["followup_due_on"]
    return due
