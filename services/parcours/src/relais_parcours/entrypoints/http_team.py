"""HTTP routes of the PRE team: team reviews (EPS), référents and caseloads, PRE settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from relais_contracts.types import (
    Axis,
    DeclineReason,
    ErasureReason,
    PartnerCategory,
    ReviewDecision,
)
from relais_parcours.context import Ctx, Parcours
from relais_parcours.entrypoints.validation import Body, Offset
from relais_parcours.service import erasure, pre_settings, referents, retries, review, team_reads
from relais_runtime.auth import Principal, require_roles
from relais_runtime.http import IdempotencyKey, Runtime

router = APIRouter(prefix="/v1")

Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]
Manager = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]


# --- team reviews -----------------------------------------------------------------------------


class Attendee(Body):
    """Un·e professionnel·le présent·e à la réunion (jamais les coordonnées de la famille)."""

    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=200)


class MeetingBody(Body):
    meets_on: date
    attendees: list[Attendee] = Field(default_factory=list, max_length=50)
    situation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class MeetingPatch(Body):
    attendees: list[Attendee] | None = Field(default=None, max_length=50)
    add_situation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class AgendaItem(BaseModel):
    situation_id: uuid.UUID
    position: int
    stage: str
    review_due_on: date
    decision_id: uuid.UUID | None
    decision: str | None
    decline_reason: str | None
    redirected_to: str | None
    redirect_category: str | None
    axes: list[str] | None
    note: str | None
    decided_at: datetime | None


class Meeting(BaseModel):
    id: uuid.UUID
    meets_on: date
    attendees: list[dict[str, Any]]
    created_at: datetime
    agenda: list[AgendaItem] = []


class DecisionBody(Body):
    situation_id: uuid.UUID
    decision: ReviewDecision
    # validate_default: their rules run when they are left out, which is the usual mistake.
    decline_reason: DeclineReason | None = Field(default=None, validate_default=True)
    redirected_to: str | None = Field(
        default=None, min_length=1, max_length=200, validate_default=True
    )
    redirect_category: PartnerCategory | None = Field(default=None, validate_default=True)
    axes: list[Axis] = Field(default_factory=list, max_length=4, validate_default=True)
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Le raisonnement de l'équipe, avec ses mots (gardé dans parcours, jamais "
        "transmis).",
    )

    # Field validators reading the decision (info.data), so that each error names the field
    # to fill in or to remove (a model validator's error has no field).
    @field_validator("decline_reason")
    @classmethod
    def _reason_with_decline(
        cls, value: DeclineReason | None, info: ValidationInfo
    ) -> DeclineReason | None:
        decision = info.data.get("decision")  # absent when decision itself was invalid
        if decision is ReviewDecision.DECLINE and value is None:
            raise PydanticCustomError(
                "decline_reason_required", "Indiquez le motif du refus (decline_reason)."
            )
        if decision is not None and decision is not ReviewDecision.DECLINE and value is not None:
            raise PydanticCustomError(
                "decline_reason_unexpected", "Le motif de refus ne va qu'avec un refus."
            )
        return value

    @field_validator("redirected_to", "redirect_category")
    @classmethod
    def _target_with_redirect(cls, value: Any, info: ValidationInfo) -> Any:
        decision = info.data.get("decision")
        if decision is ReviewDecision.REDIRECT and value is None:
            raise PydanticCustomError(
                "redirect_target_required",
                "Indiquez le service vers lequel la situation est réorientée "
                "(redirected_to et redirect_category).",
            )
        if decision is not None and decision is not ReviewDecision.REDIRECT and value is not None:
            raise PydanticCustomError(
                "redirect_unexpected",
                "Le service de réorientation ne va qu'avec une réorientation.",
            )
        return value

    @field_validator("axes")
    @classmethod
    def _axes_with_take_up(cls, value: list[Axis], info: ValidationInfo) -> list[Axis]:
        decision = info.data.get("decision")
        if decision is ReviewDecision.TAKE_UP and not value:
            raise PydanticCustomError(
                "axes_required", "Indiquez au moins un axe retenu pour le parcours (axes)."
            )
        if decision is not None and decision is not ReviewDecision.TAKE_UP and value:
            raise PydanticCustomError(
                "axes_unexpected", "Les axes ne se choisissent qu'avec une prise en charge."
            )
        return value


class DecisionCreated(BaseModel):
    id: uuid.UUID
    situation_id: uuid.UUID
    decision: ReviewDecision


async def _meeting(ctx: Parcours, who: Principal, meeting_id: uuid.UUID) -> Meeting:
    found = await team_reads.meeting(ctx.units.scoped(who.tenant), ctx, who, meeting_id)
    return Meeting(
        id=found.row["id"],
        meets_on=found.row["meets_on"],
        attendees=found.row["attendees"],
        created_at=found.row["created_at"],
        agenda=[AgendaItem(**{k: i[k] for k in AgendaItem.model_fields}) for i in found.agenda],
    )


@router.post(
    "/reviews",
    response_model=Meeting,
    status_code=201,
    summary="Préparer une réunion d'équipe (EPS)",
)
async def post_review(
    body: MeetingBody,
    who: Coordinator,
    runtime: Runtime,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> Meeting:
    meeting_id = await review.plan_meeting(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        meets_on=body.meets_on,
        attendees=[a.model_dump() for a in body.attendees],
        situation_ids=list(dict.fromkeys(body.situation_ids)),
        retry=retries.keyed(ctx, idempotency_key, retries.REVIEW, body=body),
    )
    return await _meeting(ctx, who, meeting_id)


@router.patch(
    "/reviews/{review_id}", response_model=Meeting, summary="Participants et ordre du jour"
)
async def patch_review(
    review_id: uuid.UUID, body: MeetingPatch, who: Coordinator, runtime: Runtime, ctx: Ctx
) -> Meeting:
    await review.update_meeting(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        review_id,
        attendees=[a.model_dump() for a in body.attendees] if body.attendees is not None else None,
        add_situation_ids=list(dict.fromkeys(body.add_situation_ids)),
    )
    return await _meeting(ctx, who, review_id)


@router.get("/reviews", response_model=list[Meeting], summary="Réunions d'équipe")
async def list_reviews(
    who: Team,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[Meeting]:
    rows = await team_reads.meetings(ctx.units.scoped(who.tenant), who, limit, offset)
    return [
        Meeting(
            id=r["id"], meets_on=r["meets_on"], attendees=r["attendees"], created_at=r["created_at"]
        )
        for r in rows
    ]


@router.get("/reviews/{review_id}", response_model=Meeting, summary="Une réunion d'équipe")
async def get_review(review_id: uuid.UUID, who: Team, ctx: Ctx) -> Meeting:
    return await _meeting(ctx, who, review_id)


@router.post(
    "/reviews/{review_id}/decisions",
    response_model=DecisionCreated,
    status_code=201,
    summary="Enregistrer la décision de l'équipe sur une situation",
)
async def post_decision(
    review_id: uuid.UUID, body: DecisionBody, who: Coordinator, runtime: Runtime, ctx: Ctx
) -> DecisionCreated:
    decision_id = await review.decide(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        review_id,
        situation_id=body.situation_id,
        decision=body.decision,
        decline_reason=body.decline_reason,
        redirected_to=body.redirected_to,
        redirect_category=body.redirect_category,
        axes=body.axes,
        note=body.note,
    )
    return DecisionCreated(id=decision_id, situation_id=body.situation_id, decision=body.decision)


# --- référents and caseloads -------------------------------------------------------------------


class ReferentBody(Body):
    user_sub: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="L'identifiant de connexion du membre de l'équipe (``sub`` du jeton, "
        "ASCII imprimable) ; par défaut, l'identifiant du·de la référent·e. Les notifications "
        "vont à cet identifiant.",
    )
    display_name: str = Field(min_length=1, max_length=200)
    caseload_limit: int | None = Field(
        default=None, ge=1, le=500, description="Limite personnelle ; vide : celle du PRE."
    )
    active: bool = True


class Referent(ReferentBody):
    id: uuid.UUID
    caseload: int = 0


@router.put(
    "/referents/{referent_id}", response_model=Referent, summary="Enregistrer un·e référent·e"
)
async def put_referent(
    referent_id: uuid.UUID, body: ReferentBody, who: Manager, ctx: Ctx
) -> Referent:
    body = body.model_copy(update={"user_sub": body.user_sub or str(referent_id)})
    await referents.register(ctx.units.scoped(who.tenant), who, referent_id, body.model_dump())
    return Referent(id=referent_id, **body.model_dump())


@router.get("/referents", response_model=list[Referent], summary="Référent·es et charge de suivi")
async def get_referents(
    who: Team,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[Referent]:
    rows = await team_reads.referents(ctx.units.scoped(who.tenant), who, limit, offset)
    return [Referent(**{k: r[k] for k in Referent.model_fields}) for r in rows]


class AssignBody(Body):
    referent_id: uuid.UUID
    override_reason: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="Pourquoi la coordination dépasse la limite de suivi du·de la référent·e.",
    )


class Assignment(BaseModel):
    referent_id: uuid.UUID
    display_name: str
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None
    over_limit: bool
    override_reason: str | None


async def _assignments(ctx: Parcours, who: Principal, situation_id: uuid.UUID) -> list[Assignment]:
    rows = await team_reads.assignments(ctx.units.scoped(who.tenant), ctx, who, situation_id)
    return [Assignment(**{k: r[k] for k in Assignment.model_fields}) for r in rows]


@router.put(
    "/situations/{situation_id}/referent",
    response_model=list[Assignment],
    summary="Désigner ou changer le·la référent·e",
)
async def put_situation_referent(
    situation_id: uuid.UUID, body: AssignBody, who: Coordinator, runtime: Runtime, ctx: Ctx
) -> list[Assignment]:
    await referents.assign(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        referent_id=body.referent_id,
        override_reason=body.override_reason,
    )
    return await _assignments(ctx, who, situation_id)


@router.get(
    "/situations/{situation_id}/referents",
    response_model=list[Assignment],
    summary="Historique des référent·es",
)
async def get_situation_referents(situation_id: uuid.UUID, who: Team, ctx: Ctx) -> list[Assignment]:
    return await _assignments(ctx, who, situation_id)


class PreSettings(Body):
    caseload_limit: int | None = Field(default=None, ge=1, le=500)
    max_duration_months: int | None = Field(default=None, ge=1, le=120)


@router.put("/settings", response_model=PreSettings, summary="Réglages du PRE")
async def put_settings(body: PreSettings, who: Manager, ctx: Ctx) -> PreSettings:
    await pre_settings.set_limits(
        ctx.units.scoped(who.tenant),
        who,
        caseload_limit=body.caseload_limit,
        max_duration_months=body.max_duration_months,
    )
    return body


@router.get("/settings", response_model=PreSettings, summary="Réglages du PRE")
async def get_settings(who: Team, ctx: Ctx) -> PreSettings:
    return PreSettings(**await pre_settings.limits(ctx.units.scoped(who.tenant), ctx, who))


class ErasureBody(Body):
    reason: ErasureReason


@router.post(
    "/situations/{situation_id}/erasure",
    status_code=204,
    summary="Effacer tout ce qui concerne l'enfant (clé détruite, textes effacés)",
)
async def post_erasure(
    situation_id: uuid.UUID, body: ErasureBody, who: Coordinator, runtime: Runtime, ctx: Ctx
) -> None:
    await erasure.erase(ctx.units.scoped(who.tenant), runtime, who, situation_id, body.reason)
