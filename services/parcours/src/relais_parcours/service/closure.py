"""Use cases of the end of a parcours: closure with an exit reason, the six-month follow-up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from relais_contracts.types import DeadlineKind, ExitReason, FollowupOutcome, HandoverCancelReason
from relais_parcours.context import Parcours
from relais_parcours.domain.situation import Situation, followup_held
from relais_parcours.service import access, access_log, child_texts, family_notices
from relais_parcours.service.dates import pre_day
from relais_parcours.service.handovers import cancel_handovers
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError


async def close(
    uows: Uows,
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
    async with uows() as uow:
        row = await access.situation_in(uow, who, situation_id, lock=True)
        limits = await uow.referents.limits(who.tenant)
        closure = Situation.of(row).close(
            exit_reason=exit_reason,
            final_review_held=final_review_held,
            now=now,
            today=today,
            followup_after_months=ctx.settings.followup_after_months,
            max_months=limits["max_duration_months"] or ctx.settings.max_duration_months,
        )
        await cancel_handovers(
            uow,
            await uow.handovers.open(who.tenant, situation_id),
            HandoverCancelReason.PARCOURS_CLOSED,
            now,
            who=who,
            purpose=access_log.TEAM_FOLLOW_UP,
        )
        due = closure.followup_due_on
        await uow.record_access(
            access_log.changed(
                who,
                "situation",
                situation_id,
                situation_id,
                access_log.closure_groups(with_text=exit_reason_text is not None),
                access_log.TEAM_FOLLOW_UP,
            )
        )
        await uow.situations.close(
            who.tenant,
            situation_id,
            closed_at=now,
            exit_reason=exit_reason.value,
            exit_reason_text_enc=await child_texts.seal_in(
                uow, ctx, who.tenant, row["subject_id"], exit_reason_text
            ),
            final_review_held=final_review_held,
            followup_due_on=due,
        )
        await uow.deadlines.add(
            who.tenant, situation_id, DeadlineKind.FOLLOWUP.value, due, handover_id=None
        )
        await family_notices.notify_in(
            uow,
            ctx,
            row,
            "followup_planned",
            {"date": due.isoformat()},
            dedupe_key=due.isoformat(),
        )
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(
            closure.event, subject=str(situation_id), tenant=who.tenant, sequence=version
        )
    return [closure.warning] if closure.warning else []


async def record_followup(
    uows: Uows,
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
    async with uows() as uow:
        row = await access.situation_in(uow, who, situation_id, lock=True)
        event = Situation.of(row).record_followup(
            followup_id, outcome=outcome, held_on=held_on, timezone=ctx.settings.timezone, now=now
        )
        await uow.record_access(
            access_log.changed(
                who,
                "followup",
                followup_id,
                situation_id,
                access_log.FOLLOWUP,
                access_log.TEAM_FOLLOW_UP,
            )
        )
        if not await uow.situations.add_followup(
            followup_id, situation_id, who.tenant, outcome.value, held_on, who.sub, now
        ):
            raise DomainError("followup_already_recorded", "Le suivi a déjà été enregistré.")
        await uow.deadlines.resolve(who.tenant, situation_id, DeadlineKind.FOLLOWUP.value)
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(event, subject=str(situation_id), tenant=who.tenant, sequence=version)
    return followup_id


async def followup_due_on(uows: Uows, who: Principal, situation_id: uuid.UUID) -> date:
    """The day the follow-up of a closed parcours is due."""
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id)
    due: date = situation["followup_due_on"]
    return due
