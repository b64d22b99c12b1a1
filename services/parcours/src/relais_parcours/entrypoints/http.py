"""HTTP routes of the parcours service (the PRE team's working tool)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from relais_contracts.types import PartnerCategory, PreId, Slug
from relais_parcours.adapters import repository
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Ctx
from relais_parcours.domain.situation import duration_warning
from relais_parcours.service import access
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal, ensure_same_pre, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")


def duration_warnings(
    started_on: date | None, closed_at: datetime | None, max_months: int, ctx: Any
) -> list[str]:
    if started_on is None or closed_at is not None:
        return []
    today = datetime.now(ZoneInfo(ctx.settings.timezone)).date()
    warning = duration_warning(started_on, today, max_months)
    return [warning] if warning else []


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Admin = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]


StageFilter = Literal["awaiting_review", "in_parcours", "redirected", "declined", "closed"]


class SituationSummary(BaseModel):
    """A line of the inbox: what is needed to prepare the team meeting (no identity)."""

    id: uuid.UUID
    subject_id: uuid.UUID
    stage: str
    opened_at: datetime
    review_due_on: date
    referral_ids: list[uuid.UUID]
    institution_ids: list[str]
    facts: list[dict[str, Any]] = Field(description="Non-identifying facts of each referral.")
    referent_id: uuid.UUID | None = None
    started_on: date | None = None
    axes: list[str] = []
    closed_at: datetime | None = None
    exit_reason: str | None = None


class SituationPage(BaseModel):
    items: list[SituationSummary]
    limit: int
    offset: int


class ReferralIdentity(BaseModel):
    referral_id: uuid.UUID
    institution_id: str
    received_at: datetime
    identity: dict[str, Any] | None = Field(
        description="Child, guardians, referrer and description as sent; null once erased."
    )


class SituationDetail(SituationSummary):
    plan_version: int
    exit_reason_text: str | None = None
    final_review_held: bool | None = None
    followup_due_on: date | None = None
    referrals: list[ReferralIdentity]
    warnings: list[str] = []


def _summary_fields(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in SituationSummary.model_fields}


@router.get("/situations", response_model=SituationPage, summary="Boîte de réception du PRE")
async def list_situations(
    who: Team,
    runtime: Runtime,
    stage: StageFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SituationPage:
    """Coordinators see every situation of their PRE; a référent sees their own."""
    async with runtime.pool.acquire() as conn:
        mine = await access.scope_referent(conn, who)
        rows = await repository.list_situations(
            conn, who.pre, stage=stage, referent_id=mine, limit=limit, offset=offset
        )
    return SituationPage(
        items=[SituationSummary(**_summary_fields(r)) for r in rows], limit=limit, offset=offset
    )


@router.get(
    "/situations/{situation_id}", response_model=SituationDetail, summary="Dossier d'une situation"
)
async def get_situation(
    situation_id: uuid.UUID, who: Team, runtime: Runtime, ctx: Ctx
) -> SituationDetail:
    """The situation with the identity in clear: its PRE's coordinators and its référent only."""
    async with runtime.pool.acquire() as conn:
        row = await access.situation_for(conn, who, situation_id)
        referrals = await repository.referral_identities(conn, who.pre, situation_id)
        limits = await repository.pre_limits(conn, who.pre)
    identities = []
    for r in referrals:
        identity = None
        if r["wrapped_key"] is not None and r["identity_enc"] is not None:
            try:
                identity = ctx.vault.decrypt(r["wrapped_key"], row["subject_id"], r["identity_enc"])
            except IdentityUnreadableError:
                identity = None
        identities.append(
            ReferralIdentity(
                referral_id=r["referral_id"],
                institution_id=r["institution_id"],
                received_at=r["received_at"],
                identity=identity,
            )
        )
    max_months = limits["max_duration_months"] or ctx.settings.max_duration_months
    return SituationDetail(
        **_summary_fields(row),
        plan_version=row["plan_version"],
        exit_reason_text=row["exit_reason_text"],
        final_review_held=row["final_review_held"],
        followup_due_on=row["followup_due_on"],
        referrals=identities,
        warnings=duration_warnings(row["started_on"], row["closed_at"], max_months, ctx),
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
