"""HTTP routes of handovers: the référent asks, the partner answers and reads its sheet."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from relais_contracts.types import (
    DataCategory,
    HandoverCancelReason,
    HandoverDeclineReason,
    HandoverOutcome,
    Slug,
)
from relais_parcours.context import Ctx, Parcours
from relais_parcours.entrypoints.validation import Body, Offset
from relais_parcours.service import handover_reads, handovers, retries
from relais_runtime.auth import Principal, require_roles
from relais_runtime.http import IdempotencyKey, Runtime
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Partner = Annotated[Principal, Depends(require_roles("partner"))]
Anyone = Annotated[Principal, Depends(require_roles("coordinator", "referent", "partner"))]


class HandoverBody(Body):
    action_id: uuid.UUID
    partner_id: Slug
    data_categories: list[DataCategory] = Field(
        default_factory=list,
        max_length=len(DataCategory),
        description="Ce que le partenaire verra sur sa fiche ; dans les limites du consentement.",
    )
    message: str | None = Field(
        default=None, max_length=2000, description="Les mots du·de la référent·e au partenaire."
    )


_WITHHELD = (
    "Null pour un partenaire une fois le relais annulé, ou si le consentement en vigueur ne le "
    "nomme plus."
)
_UNTIL_ACCEPTED = " Null aussi pour un partenaire tant qu'il n'a pas accepté le relais."


class Handover(BaseModel):
    id: uuid.UUID
    situation_id: uuid.UUID | None = Field(description="Cachée aux partenaires.")
    action_id: uuid.UUID | None = Field(description=_WITHHELD)
    axis: str | None = Field(description=_WITHHELD)
    action_title: str | None = Field(description=_WITHHELD)
    partner_id: str
    referent_id: uuid.UUID | None = Field(description=_WITHHELD + _UNTIL_ACCEPTED)
    data_categories: list[str] | None = Field(description=_WITHHELD + _UNTIL_ACCEPTED)
    status: str
    requested_at: datetime
    response_due_on: date
    responded_at: datetime | None
    decline_reason: str | None
    expected_start_on: date | None
    starts_on: date | None
    outcome: str | None
    ended_at: datetime | None
    cancel_reason: str | None


#: A typo in the filter is a French 422, not an empty page.
HandoverStatus = Literal[
    "requested", "accepted", "declined", "waitlisted", "completed", "cancelled"
]


class HandoverPage(BaseModel):
    items: list[Handover]
    limit: int
    offset: int


def _handover(seen: handover_reads.HandoverSeen) -> Handover:
    return Handover(**{k: seen[k] for k in Handover.model_fields})


async def _find(ctx: Parcours, who: Principal, handover_id: uuid.UUID) -> Handover:
    return _handover(await handover_reads.find(ctx.units.scoped(who.tenant), ctx, who, handover_id))


@router.post(
    "/situations/{situation_id}/handovers",
    response_model=Handover,
    status_code=201,
    summary="Confier une action du plan à un partenaire (dans le cadre du consentement)",
)
async def post_handover(
    situation_id: uuid.UUID,
    body: HandoverBody,
    who: Team,
    runtime: Runtime,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> Handover:
    handover_id = await handovers.request(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id,
        action_id=body.action_id,
        partner_id=body.partner_id,
        data_categories=body.data_categories,
        message=body.message,
        retry=retries.keyed(ctx, idempotency_key, retries.HANDOVER, situation_id, body=body),
    )
    return await _find(ctx, who, handover_id)


@router.get("/handovers", response_model=HandoverPage, summary="Relais (partenaire : les siens)")
async def list_handovers(
    who: Anyone,
    runtime: Runtime,
    ctx: Ctx,
    situation_id: uuid.UUID | None = None,
    status: HandoverStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> HandoverPage:
    items = await handover_reads.page(
        ctx.units.scoped(who.tenant),
        ctx,
        who,
        situation_id=situation_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return HandoverPage(items=[_handover(h) for h in items], limit=limit, offset=offset)


@router.get("/handovers/{handover_id}", response_model=Handover, summary="Un relais")
async def get_handover(handover_id: uuid.UUID, who: Anyone, runtime: Runtime, ctx: Ctx) -> Handover:
    return await _find(ctx, who, handover_id)


class AcceptBody(Body):
    starts_on: date | None = None


class DeclineBody(Body):
    reason: HandoverDeclineReason


class WaitlistBody(Body):
    expected_start_on: date | None = Field(
        default=None, description="Quand le partenaire pense commencer ; vide si inconnu."
    )


class CompleteBody(Body):
    outcome: HandoverOutcome


class CancelBody(Body):
    reason: HandoverCancelReason = HandoverCancelReason.REFERENT_REQUEST


async def _respond(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    handover_id: uuid.UUID,
    target: str,
    **answer: Any,
) -> None:
    await handovers.respond(ctx.units.scoped(who.tenant), ctx, who, handover_id, target, **answer)


@router.post("/handovers/{handover_id}/acceptance", response_model=Handover, summary="Accepter")
async def accept(
    handover_id: uuid.UUID, body: AcceptBody, who: Partner, runtime: Runtime, ctx: Ctx
) -> Handover:
    await _respond(runtime, ctx, who, handover_id, "accepted", starts_on=body.starts_on)
    return await _find(ctx, who, handover_id)


@router.post("/handovers/{handover_id}/refusal", response_model=Handover, summary="Refuser")
async def decline(
    handover_id: uuid.UUID, body: DeclineBody, who: Partner, runtime: Runtime, ctx: Ctx
) -> Handover:
    await _respond(runtime, ctx, who, handover_id, "declined", reason=body.reason)
    return await _find(ctx, who, handover_id)


@router.post(
    "/handovers/{handover_id}/waitlisting",
    response_model=Handover,
    summary="Mettre en liste d'attente",
)
async def waitlist(
    handover_id: uuid.UUID, body: WaitlistBody, who: Partner, runtime: Runtime, ctx: Ctx
) -> Handover:
    await _respond(
        runtime, ctx, who, handover_id, "waitlisted", expected_start_on=body.expected_start_on
    )
    return await _find(ctx, who, handover_id)


@router.post(
    "/handovers/{handover_id}/completion", response_model=Handover, summary="Déclarer terminé"
)
async def complete(
    handover_id: uuid.UUID, body: CompleteBody, who: Partner, runtime: Runtime, ctx: Ctx
) -> Handover:
    await _respond(runtime, ctx, who, handover_id, "completed", outcome=body.outcome)
    return await _find(ctx, who, handover_id)


@router.post(
    "/handovers/{handover_id}/cancellation", response_model=Handover, summary="Annuler (PRE)"
)
async def cancel(
    handover_id: uuid.UUID, body: CancelBody, who: Team, runtime: Runtime, ctx: Ctx
) -> Handover:
    await handovers.cancel(ctx.units.scoped(who.tenant), who, handover_id, body.reason)
    return await _find(ctx, who, handover_id)


@router.get(
    "/handovers/{handover_id}/sheet",
    summary="Fiche de relais du partenaire (limitée au consentement ; chaque lecture est tracée)",
    description="Avant que le partenaire accepte le relais, la fiche ne montre que l'action "
    "et son axe (`complete: false`) ; la fiche complète, dans les limites du consentement, "
    "s'ouvre à l'acceptation (`complete: true`) et chaque lecture est inscrite au registre "
    "des partages.",
)
async def get_sheet(
    handover_id: uuid.UUID, who: Partner, runtime: Runtime, ctx: Ctx
) -> dict[str, Any]:
    return await handovers.read_sheet(ctx.units.scoped(who.tenant), ctx, who, handover_id)


class Disclosure(BaseModel):
    read_at: datetime
    partner_id: str
    partner_name: str | None
    reader_sub: str
    data_categories: list[str]
    handover_id: uuid.UUID


@router.get(
    "/situations/{situation_id}/disclosures",
    response_model=list[Disclosure],
    summary="Registre des communications : qui a vu quoi, quand (à montrer à la famille)",
)
async def get_disclosures(
    situation_id: uuid.UUID,
    who: Team,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Offset = 0,
) -> list[Disclosure]:
    rows = await handover_reads.disclosures(
        ctx.units.scoped(who.tenant), who, situation_id, limit, offset
    )
    return [Disclosure(**dict(r)) for r in rows]
