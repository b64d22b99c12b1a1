"""HTTP routes of partners keeping their own entry, and of the coordinator deciding."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from relais_contracts.types import Slug
from relais_parcours.context import Ctx
from relais_parcours.domain.partner import EntryProposal, PartnerBody, WaitTime
from relais_parcours.entrypoints.http_partners import refused
from relais_parcours.entrypoints.validation import Body, Offset, PartnerId
from relais_parcours.service import directory_changes
from relais_parcours.service.directory import EntryRefusedError
from relais_runtime.auth import Principal, require_roles

router = APIRouter(prefix="/v1")

Partner = Annotated[Principal, Depends(require_roles("partner"))]
Manager = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
Viewer = Annotated[Principal, Depends(require_roles("coordinator", "admin", "partner"))]
Status = Literal["pending", "approved", "rejected", "superseded"]


class Change(BaseModel):
    """Une modification de sa fiche proposée par un partenaire, et ce qu'elle est devenue."""

    id: uuid.UUID
    partner_id: str
    parts: list[str] = Field(description="Les champs de la fiche qu'elle modifie.")
    status: Status
    proposed_at: datetime
    decided_at: datetime | None = None
    reason: str | None = Field(default=None, description="Pourquoi la coordination l'a refusée.")
    proposed: PartnerBody = Field(description="La fiche telle qu'elle serait publiée.")


class ChangeDetail(Change):
    published: PartnerBody = Field(description="La fiche publiée aujourd'hui, pour comparer.")


class Rejection(Body):
    reason: str = Field(min_length=3, max_length=1000, description="Pour le partenaire.")


def _change(row: Any) -> Change:
    return Change(
        **{k: row[k] for k in Change.model_fields if k != "proposed"},
        proposed=PartnerBody(**row["proposed"]),
    )


@router.post(
    "/partners/{partner_id}/changes",
    status_code=201,
    response_model=Change,
    summary="Le partenaire propose une mise à jour de sa fiche (validée par le PRE)",
)
async def post_change(partner_id: PartnerId, body: EntryProposal, who: Partner, ctx: Ctx) -> Change:
    try:
        return _change(
            await directory_changes.propose(ctx.units.scoped(who.tenant), who, partner_id, body)
        )
    except EntryRefusedError as exc:
        raise refused(exc.problems) from None


@router.put(
    "/partners/{partner_id}/services/{service_id}/wait-time",
    status_code=201,
    response_model=Change,
    summary="Le partenaire indique le délai d'attente actuel d'un service (validé par le PRE)",
)
async def put_wait_time(
    partner_id: PartnerId, service_id: Slug, body: WaitTime, who: Partner, ctx: Ctx
) -> Change:
    change = await directory_changes.set_wait_time(
        ctx.units.scoped(who.tenant), who, partner_id, service_id, body
    )
    return _change(change)


@router.get(
    "/partners/{partner_id}/changes",
    response_model=list[Change],
    summary="Les propositions d'un partenaire et leur sort",
)
async def get_partner_changes(
    partner_id: PartnerId,
    who: Viewer,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[Change]:
    rows = await directory_changes.changes(
        ctx.units.scoped(who.tenant),
        who,
        status=None,
        partner_id=partner_id,
        limit=limit,
        offset=offset,
    )
    return [_change(r) for r in rows]


@router.get(
    "/directory/changes",
    response_model=list[Change],
    summary="Les mises à jour proposées par les partenaires (à valider : status=pending)",
)
async def get_changes(
    who: Manager,
    ctx: Ctx,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[Change]:
    rows = await directory_changes.changes(
        ctx.units.scoped(who.tenant),
        who,
        status=status,
        partner_id=None,
        limit=limit,
        offset=offset,
    )
    return [_change(r) for r in rows]


@router.get(
    "/directory/changes/{change_id}",
    response_model=ChangeDetail,
    summary="Une proposition, à côté de la fiche publiée",
)
async def get_change(change_id: uuid.UUID, who: Manager, ctx: Ctx) -> ChangeDetail:
    row, entry = await directory_changes.change_beside_entry(
        ctx.units.scoped(who.tenant), who, change_id
    )
    published = PartnerBody(
        **{k: entry[k] for k in PartnerBody.model_fields if k != "tenant"}, tenant=entry["pre_id"]
    )
    return ChangeDetail(**_change(row).model_dump(), published=published)


@router.post(
    "/directory/changes/{change_id}/approval",
    status_code=204,
    summary="Valider une proposition : la fiche est publiée",
)
async def post_approval(change_id: uuid.UUID, who: Manager, ctx: Ctx) -> None:
    await directory_changes.approve(ctx.units.scoped(who.tenant), who, change_id)


@router.post(
    "/directory/changes/{change_id}/rejection",
    status_code=204,
    summary="Refuser une proposition, avec la raison pour le partenaire",
)
async def post_rejection(change_id: uuid.UUID, body: Rejection, who: Manager, ctx: Ctx) -> None:
    await directory_changes.reject(ctx.units.scoped(who.tenant), who, change_id, body.reason)
