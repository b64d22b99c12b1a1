"""HTTP routes of the parcours service (the PRE team's working tool)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from relais_contracts.types import PartnerCategory, PreId, SituationStage, Slug
from relais_parcours.adapters import repository
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal, ensure_same_pre, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Admin = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]


class SituationSummary(BaseModel):
    """A line of the coordinator's inbox: what is needed to prepare the team meeting."""

    id: uuid.UUID
    subject_id: uuid.UUID
    stage: SituationStage
    opened_at: datetime
    review_due_on: date
    referral_ids: list[uuid.UUID]
    institution_ids: list[str]


class SituationPage(BaseModel):
    items: list[SituationSummary]
    limit: int
    offset: int


@router.get("/situations", response_model=SituationPage, summary="Boîte de réception du PRE")
async def list_situations(
    who: Team,
    runtime: Runtime,
    stage: SituationStage | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SituationPage:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_situations(
            conn, who.pre, stage=stage.value if stage else None, limit=limit, offset=offset
        )
    return SituationPage(
        items=[SituationSummary(**dict(r)) for r in rows], limit=limit, offset=offset
    )


class PartnerBody(BaseModel):
    """A partner organisation (HSDS 3 ``organization``: id, name, description, website)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Slug
    pre_id: PreId
    name: str = Field(min_length=1, max_length=200)
    category: PartnerCategory
    description: str | None = Field(default=None, max_length=2000)
    website: HttpUrl | None = None


@router.put(
    "/partners/{partner_id}", response_model=PartnerBody, summary="Enregistrer un partenaire"
)
async def put_partner(
    partner_id: str, body: PartnerBody, who: Admin, runtime: Runtime
) -> PartnerBody:
    ensure_same_pre(who, body.pre_id)
    if body.id != partner_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    async with runtime.pool.acquire() as conn:
        if not await repository.upsert_partner(conn, body.model_dump(mode="json")):
            raise DomainError(
                "partner_id_taken", "Cet identifiant est déjà utilisé par un autre PRE."
            )
    return body


@router.get("/partners", response_model=list[PartnerBody], summary="Annuaire des partenaires")
async def get_partners(who: Team, runtime: Runtime) -> list[PartnerBody]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_partners(conn, who.pre)
    return [PartnerBody(**dict(r)) for r in rows]
