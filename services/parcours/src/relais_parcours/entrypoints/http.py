"""HTTP routes of the parcours service (the PRE team's working tool)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from relais_parcours.context import Ctx
from relais_parcours.entrypoints.validation import Offset
from relais_parcours.service import situation_reads
from relais_runtime.auth import Principal, require_roles
from relais_runtime.http import Runtime

router = APIRouter(prefix="/v1")


Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]


StageFilter = Literal[
    "awaiting_review", "in_parcours", "redirected", "declined", "closed", "withdrawn", "erased"
]


class SituationSummary(BaseModel):
    """Une ligne de la boîte de réception : de quoi préparer la réunion d'équipe (sans identité)."""

    id: uuid.UUID
    subject_id: uuid.UUID
    stage: str
    opened_at: datetime
    review_due_on: date
    referral_ids: list[uuid.UUID]
    institution_ids: list[str]
    facts: list[dict[str, Any]] = Field(description="Faits non identifiants de chaque orientation.")
    referent_id: uuid.UUID | None = None
    started_on: date | None = None
    axes: list[str] = []
    closed_at: datetime | None = None
    exit_reason: str | None = None
    previous_situation_id: uuid.UUID | None = Field(
        default=None,
        description="La situation précédente de l'enfant, terminée (refusée, réorientée ou "
        "clôturée), quand celle-ci a été ouverte par une nouvelle orientation.",
    )
    interpreter_needed: bool = Field(
        default=False,
        description="Un responsable a besoin d'un interprète (« interprète à prévoir ») : un "
        "besoin, lu dans l'identité à son arrivée, pas une identité.",
    )
    warnings: list[str] = Field(
        default=[], description="En français, par exemple un parcours au-delà de la durée maximale."
    )


class SituationPage(BaseModel):
    items: list[SituationSummary]
    limit: int
    offset: int


class ReferralIdentity(BaseModel):
    referral_id: uuid.UUID
    institution_id: str
    received_at: datetime
    identity: dict[str, Any] | None = Field(
        description="Enfant, responsables, émetteur et description tels qu'envoyés ; null une "
        "fois effacés."
    )


class SituationDetail(SituationSummary):
    plan_version: int
    exit_reason_text: str | None = None
    final_review_held: bool | None = None
    followup_due_on: date | None = None
    referrals: list[ReferralIdentity]
    consent_id: uuid.UUID | None = Field(
        default=None, description="Le consentement de la famille en vigueur, s'il y en a un."
    )
    open_handovers: int = 0


def _summary_fields(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in SituationSummary.model_fields if k != "warnings"}


@router.get("/situations", response_model=SituationPage, summary="Boîte de réception du PRE")
async def list_situations(
    who: Team,
    runtime: Runtime,
    ctx: Ctx,
    stage: StageFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> SituationPage:
    """La coordination voit toutes les situations de son PRE ; un·e référent·e, les siennes."""
    found = await situation_reads.inbox(
        ctx.units.scoped(who.tenant), ctx, who, stage=stage, limit=limit, offset=offset
    )
    return SituationPage(
        items=[SituationSummary(**_summary_fields(s.row), warnings=s.warnings) for s in found],
        limit=limit,
        offset=offset,
    )


@router.get(
    "/situations/{situation_id}", response_model=SituationDetail, summary="Dossier d'une situation"
)
async def get_situation(
    situation_id: uuid.UUID, who: Team, runtime: Runtime, ctx: Ctx
) -> SituationDetail:
    """La situation avec l'identité en clair : pour la coordination du PRE et son·sa référent·e."""
    found = await situation_reads.situation_file(
        ctx.units.scoped(who.tenant), ctx, who, situation_id
    )
    row = found.row
    return SituationDetail(
        **_summary_fields(row),
        plan_version=row["plan_version"],
        exit_reason_text=found.exit_reason_text,
        final_review_held=row["final_review_held"],
        followup_due_on=row["followup_due_on"],
        referrals=[ReferralIdentity(**r) for r in found.referrals],
        consent_id=found.consent_id,
        open_handovers=found.open_handovers,
        warnings=found.warnings,
    )
