"""Use cases of the team review (EPS): plan a meeting, set its agenda, decide."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from relais_contracts.types import (
    Axis,
    DeadlineKind,
    DeclineReason,
    PartnerCategory,
    ReviewDecision,
)
from relais_parcours.context import Parcours
from relais_parcours.domain.review import STAGE_AFTER, Meeting, check_reviewable
from relais_parcours.domain.situation import Situation
from relais_parcours.service import child_texts, retries
from relais_parcours.service.dates import opened_on, pre_day
from relais_parcours.service.ports import ParcoursWork, Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError

MEETING_NOT_FOUND = DomainError("review_not_found", "Réunion d'équipe introuvable.", 404)


async def _check_agenda(
    uow: ParcoursWork,
    ctx: Parcours,
    tenant: str,
    situation_ids: list[uuid.UUID],
    meets_on: date,
    field: str,
) -> None:
    """Each situation exists, awaits its review, and existed on the meeting's day (a
    review dated before the situation opened is refused on ``field``)."""
    for situation_id in situation_ids:
        row = await uow.situations.get(tenant, situation_id)
        if row is None:
            raise DomainError(
                "situation_not_found", f"Situation {situation_id} introuvable dans ce PRE.", 404
            )
        check_reviewable(Situation.of(row), opened_on(ctx, row), meets_on, field)


async def plan_meeting(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    *,
    meets_on: date,
    attendees: list[dict[str, Any]],
    situation_ids: list[uuid.UUID],
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    meeting_id = uuid.uuid4()
    async with uows() as uow:
        earlier = await retries.claim_in(uow, who, retry, meeting_id)
        if earlier is not None:
            return earlier
        await _check_agenda(uow, ctx, who.tenant, situation_ids, meets_on, "meets_on")
        await uow.reviews.add_meeting(
            meeting_id, who.tenant, meets_on, attendees, who.sub, datetime.now(UTC)
        )
        for position, situation_id in enumerate(situation_ids, start=1):
            await uow.reviews.add_to_agenda(meeting_id, situation_id, who.tenant, position)
    return meeting_id


async def update_meeting(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    meeting_id: uuid.UUID,
    *,
    attendees: list[dict[str, Any]] | None,
    add_situation_ids: list[uuid.UUID],
) -> None:
    async with uows() as uow:
        meeting = await uow.reviews.meeting(who.tenant, meeting_id, lock=True)
        if meeting is None:
            raise MEETING_NOT_FOUND
        if attendees is not None:
            await uow.reviews.set_attendees(who.tenant, meeting_id, attendees)
        await _check_agenda(
            uow, ctx, who.tenant, add_situation_ids, meeting["meets_on"], "add_situation_ids"
        )
        position = await uow.reviews.agenda_length(who.tenant, meeting_id)
        for situation_id in add_situation_ids:
            position += 1
            await uow.reviews.add_to_agenda(meeting_id, situation_id, who.tenant, position)


async def decide(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    meeting_id: uuid.UUID,
    *,
    situation_id: uuid.UUID,
    decision: ReviewDecision,
    decline_reason: DeclineReason | None,
    redirected_to: str | None,
    redirect_category: PartnerCategory | None,
    axes: list[Axis],
    note: str | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    decision_id = uuid.uuid4()
    async with uows() as uow:
        meeting = await uow.reviews.meeting(who.tenant, meeting_id, lock=True)
        if meeting is None:
            raise MEETING_NOT_FOUND
        if not await uow.reviews.on_agenda(who.tenant, meeting_id, situation_id):
            raise DomainError(
                "not_on_agenda",
                "Cette situation n'est pas à l'ordre du jour de cette réunion : "
                "ajoutez-la d'abord.",
                422,
            )
        situation = await uow.situations.get(who.tenant, situation_id, lock=True)
        assert situation is not None  # on the agenda of a meeting of this PRE
        event = Meeting.of(meeting).decide(
            Situation.of(situation),
            decision_id,
            decision=decision,
            decline_reason=decline_reason,
            redirected_to=redirected_to,
            redirect_category=redirect_category,
            axes=axes,
            now=now,
            today=pre_day(ctx, now),
        )
        await uow.reviews.add_decision(
            who.tenant,
            {
                "id": decision_id,
                "meeting_id": meeting_id,
                "situation_id": situation_id,
                "decision": decision.value,
                "decline_reason": decline_reason.value if decline_reason else None,
                "redirected_to": redirected_to,
                "redirect_category": redirect_category.value if redirect_category else None,
                "axes": [a.value for a in event.axes],
                "attendees": meeting["attendees"],
                "note_enc": await child_texts.seal_in(
                    uow, ctx, who.tenant, situation["subject_id"], note
                ),
                "decided_by": who.sub,
                "decided_at": now,
            },
        )
        await uow.situations.set_stage_after_review(
            who.tenant,
            situation_id,
            stage=STAGE_AFTER[decision],
            started_on=pre_day(ctx, now) if decision is ReviewDecision.TAKE_UP else None,
            axes=[a.value for a in event.axes],
        )
        await uow.deadlines.resolve(who.tenant, situation_id, DeadlineKind.REVIEW.value)
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(event, subject=str(situation_id), tenant=who.tenant, sequence=version)
    return decision_id
