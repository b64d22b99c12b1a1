"""HTTP routes of the référent's work: consent ledger and the four-axis plan."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from relais_contracts.types import Axis, ExitReason, FollowupOutcome
from relais_parcours.context import Ctx, Parcours
from relais_parcours.domain.consent import UnknownGuardianError
from relais_parcours.entrypoints.consent_body import ConsentBody
from relais_parcours.entrypoints.validation import Body, invalid_field
from relais_parcours.service import closure, consent, plan, retries
from relais_runtime.auth import Principal, require_roles
from relais_runtime.http import IdempotencyKey

router = APIRouter(prefix="/v1")

Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]


# --- consent ----------------------------------------------------------------------------------


class Consent(BaseModel):
    id: uuid.UUID
    form: str
    guardians: list[dict[str, Any]]
    sole_guardian_reason: str | None
    witness: str | None
    scope: list[dict[str, Any]]
    given_at: datetime
    valid_until: date | None
    recorded_by: str
    status: str
    supersedes: uuid.UUID | None
    ended_at: datetime | None
    withdrawn_by: str | None


class WithdrawBody(Body):
    guardian: str = Field(
        min_length=1,
        max_length=100,
        description="Le·la titulaire qui retire son consentement : l'un des libellés des "
        "titulaires du consentement (par exemple « Père »), majuscules ou non.",
    )


def _consent(row: Any) -> Consent:
    return Consent(**{k: row[k] for k in Consent.model_fields})


class Withdrawn(BaseModel):
    consent_id: uuid.UUID
    partners_cut_off: list[str]


@router.post(
    "/situations/{situation_id}/consents",
    response_model=Consent,
    status_code=201,
    summary="Enregistrer le consentement de la famille (remplace le précédent)",
)
async def post_consent(
    situation_id: uuid.UUID,
    body: ConsentBody,
    who: Team,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> Consent:
    uows = ctx.units.scoped(who.tenant)
    consent_id = await consent.give(
        uows,
        ctx,
        who,
        situation_id,
        form=body.form,
        given_at=body.given_at,
        valid_until=body.valid_until,
        guardians=[g.model_dump() for g in body.guardians],
        sole_guardian_reason=body.sole_guardian_reason,
        witness=body.witness,
        scope=[s.model_dump(mode="json", exclude_none=True) for s in body.scope],
        retry=retries.keyed(ctx, idempotency_key, retries.CONSENT, situation_id, body=body),
    )
    # The answer is the consent just given: not a read of the ledger.
    rows = await consent.ledger(uows, ctx, who, situation_id, record_read=False)
    return next(_consent(r) for r in rows if r["id"] == consent_id)


@router.get(
    "/situations/{situation_id}/consents",
    response_model=list[Consent],
    summary="Registre des consentements",
)
async def get_consents(situation_id: uuid.UUID, who: Team, ctx: Ctx) -> list[Consent]:
    uows = ctx.units.scoped(who.tenant)
    return [_consent(r) for r in await consent.ledger(uows, ctx, who, situation_id)]


@router.post(
    "/situations/{situation_id}/consents/{consent_id}/withdrawal",
    response_model=Withdrawn,
    summary="Retrait du consentement par un parent : tout partage s'arrête",
)
async def post_withdrawal(
    situation_id: uuid.UUID, consent_id: uuid.UUID, body: WithdrawBody, who: Team, ctx: Ctx
) -> Withdrawn:
    try:
        partners = await consent.withdraw(
            ctx.units.scoped(who.tenant), who, situation_id, consent_id, guardian=body.guardian
        )
    except UnknownGuardianError as unknown:
        raise invalid_field(
            "guardian",
            "guardian_unknown",
            "Le retrait doit venir d'un titulaire de l'autorité parentale qui a donné ce "
            "consentement : " + ", ".join(f"« {label} »" for label in unknown.labels) + ".",
        ) from None
    return Withdrawn(consent_id=consent_id, partners_cut_off=partners)


# --- plan -------------------------------------------------------------------------------------


class ObjectiveBody(Body):
    axis: Axis
    title: str = Field(min_length=1, max_length=300)
    target_on: date | None = None


class ObjectivePatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    status: Literal["open", "met", "abandoned"] | None = None
    target_on: date | None = None


class ActionBody(Body):
    title: str = Field(min_length=1, max_length=300)
    starts_on: date | None = None
    ends_on: date | None = None

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if starts_on and value and value < starts_on:
            raise PydanticCustomError(
                "ends_before_start", "La date de fin précède la date de début."
            )
        return value


class ActionPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    status: Literal["planned", "in_progress", "done", "cancelled"] | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class Action(BaseModel):
    id: uuid.UUID
    axis: str
    title: str
    status: str
    starts_on: date | None
    ends_on: date | None
    handover_id: uuid.UUID | None
    updated_at: datetime


class Objective(BaseModel):
    id: uuid.UUID
    axis: str
    title: str
    status: str
    target_on: date | None
    updated_at: datetime
    actions: list[Action]


class Plan(BaseModel):
    situation_id: uuid.UUID
    plan_version: int
    objectives: list[Objective]


class Created(BaseModel):
    id: uuid.UUID


async def read_plan(ctx: Parcours, who: Principal, situation_id: uuid.UUID) -> Plan:
    situation, objectives, actions = await plan.read(
        ctx.units.scoped(who.tenant), ctx, who, situation_id
    )
    return Plan(
        situation_id=situation_id,
        plan_version=situation["plan_version"],
        objectives=[
            Objective(
                **{k: o[k] for k in ("id", "axis", "title", "status", "target_on", "updated_at")},
                actions=[
                    Action(**{k: a[k] for k in Action.model_fields})
                    for a in actions
                    if a["objective_id"] == o["id"]
                ],
            )
            for o in objectives
        ],
    )


@router.get("/situations/{situation_id}/plan", response_model=Plan, summary="Le plan individuel")
async def get_plan(situation_id: uuid.UUID, who: Team, ctx: Ctx) -> Plan:
    return await read_plan(ctx, who, situation_id)


@router.post(
    "/situations/{situation_id}/plan/objectives",
    response_model=Created,
    status_code=201,
    summary="Ajouter un objectif",
)
async def post_objective(
    situation_id: uuid.UUID,
    body: ObjectiveBody,
    who: Team,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> Created:
    retry = retries.keyed(ctx, idempotency_key, retries.OBJECTIVE, situation_id, body=body)
    values = body.model_dump()
    return Created(
        id=await plan.add_objective(
            ctx.units.scoped(who.tenant), ctx, who, situation_id, values, retry=retry
        )
    )


@router.patch(
    "/situations/{situation_id}/plan/objectives/{objective_id}",
    response_model=Plan,
    summary="Modifier un objectif",
)
async def patch_objective(
    situation_id: uuid.UUID,
    objective_id: uuid.UUID,
    body: ObjectivePatch,
    who: Team,
    ctx: Ctx,
) -> Plan:
    await plan.change_objective(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        objective_id,
        body.model_dump(exclude_unset=True),
    )
    return await read_plan(ctx, who, situation_id)


@router.post(
    "/situations/{situation_id}/plan/objectives/{objective_id}/actions",
    response_model=Created,
    status_code=201,
    summary="Ajouter une action à un objectif",
)
async def post_action(
    situation_id: uuid.UUID,
    objective_id: uuid.UUID,
    body: ActionBody,
    who: Team,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> Created:
    action_id = await plan.add_action(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        objective_id,
        body.model_dump(),
        retry=retries.keyed(
            ctx, idempotency_key, retries.ACTION, situation_id, objective_id, body=body
        ),
    )
    return Created(id=action_id)


@router.patch(
    "/situations/{situation_id}/plan/actions/{action_id}",
    response_model=Plan,
    summary="Modifier une action",
)
async def patch_action(
    situation_id: uuid.UUID,
    action_id: uuid.UUID,
    body: ActionPatch,
    who: Team,
    ctx: Ctx,
) -> Plan:
    await plan.change_action(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        action_id,
        body.model_dump(exclude_unset=True),
    )
    return await read_plan(ctx, who, situation_id)


# --- closure and follow-up --------------------------------------------------------------------


class ClosureBody(Body):
    exit_reason: ExitReason
    exit_reason_text: str | None = Field(
        default=None, min_length=3, max_length=500, validate_default=True
    )
    final_review_held: bool = Field(description="Un bilan final a eu lieu avec les partenaires.")

    @field_validator("exit_reason_text")
    @classmethod
    def _text_with_other(cls, value: str | None, info: ValidationInfo) -> str | None:
        reason = info.data.get("exit_reason")  # absent when exit_reason itself was invalid
        if reason is not None and (reason is ExitReason.OTHER) != (value is not None):
            raise PydanticCustomError(
                "exit_reason_text",
                "Précisez le motif (exit_reason_text) si et seulement si le motif est « other ».",
            )
        return value


class Closed(BaseModel):
    situation_id: uuid.UUID
    followup_due_on: date
    warnings: list[str]


@router.post(
    "/situations/{situation_id}/closure",
    response_model=Closed,
    summary="Clôturer le parcours (motif de sortie, suivi à six mois)",
)
async def post_closure(situation_id: uuid.UUID, body: ClosureBody, who: Team, ctx: Ctx) -> Closed:
    uows = ctx.units.scoped(who.tenant)
    warnings = await closure.close(
        uows,
        ctx,
        who,
        situation_id,
        exit_reason=body.exit_reason,
        exit_reason_text=body.exit_reason_text,
        final_review_held=body.final_review_held,
    )
    due = await closure.followup_due_on(uows, who, situation_id)
    return Closed(situation_id=situation_id, followup_due_on=due, warnings=warnings)


class FollowupBody(Body):
    outcome: FollowupOutcome
    held_on: date


@router.post(
    "/situations/{situation_id}/followup",
    response_model=Created,
    status_code=201,
    summary="Enregistrer le suivi à six mois",
)
async def post_followup(
    situation_id: uuid.UUID, body: FollowupBody, who: Team, ctx: Ctx
) -> Created:
    followup_id = await closure.record_followup(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        outcome=body.outcome,
        held_on=body.held_on,
    )
    return Created(id=followup_id)
