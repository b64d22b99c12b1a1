"""HTTP routes of the parcours service (the PRE team's working tool)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from relais_parcours.adapters import consents_repo, handovers_repo, referents_repo, situations_repo
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Ctx
from relais_parcours.domain.situation import duration_warning
from relais_parcours.entrypoints.validation import Offset
from relais_parcours.service import access, access_log, tenancy
from relais_parcours.service.dates import pre_day
from relais_runtime.auth import Principal, require_roles
from relais_runtime.http import Runtime

router = APIRouter(prefix="/v1")


def duration_warnings(
    started_on: date | None, closed_at: datetime | None, max_months: int, ctx: Any
) -> list[str]:
    if started_on is None or closed_at is not None:
        return []
    today = pre_day(ctx)
    warning = duration_warning(started_on, today, max_months)
    return [warning] if warning else []


Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]


StageFilter = Literal[
    "awaiting_review", "in_parcours", "redirected", "declined", "closed", "withdrawn", "erased"
]


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
    previous_situation_id: uuid.UUID | None = Field(
        default=None,
        description="The child's previous situation, finished (declined, redirected or "
        "closed) when this one was opened by a new referral.",
    )
    interpreter_needed: bool = Field(
        default=False,
        description="A guardian needs an interpreter (« interprète à prévoir »): a need, "
        "read from the identity when it arrived, not an identity.",
    )
    warnings: list[str] = Field(
        default=[], description="In French, e.g. a parcours past the PRE's maximum duration."
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
        description="Child, guardians, referrer and description as sent; null once erased."
    )


class SituationDetail(SituationSummary):
    plan_version: int
    exit_reason_text: str | None = None
    final_review_held: bool | None = None
    followup_due_on: date | None = None
    referrals: list[ReferralIdentity]
    consent_id: uuid.UUID | None = Field(
        default=None, description="The family's consent currently active, if any."
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
    """Coordinators see every situation of their PRE; a référent sees their own."""
    async with tenancy.scoped(runtime, who.pre) as conn:
        mine = await access.scope_referent(conn, who)
        rows = await situations_repo.list_situations(
            conn, who.pre, stage=stage, referent_id=mine, limit=limit, offset=offset
        )
        limits = await referents_repo.pre_limits(conn, who.pre)
    max_months = limits["max_duration_months"] or ctx.settings.max_duration_months
    return SituationPage(
        items=[
            SituationSummary(
                **_summary_fields(r),
                warnings=duration_warnings(r["started_on"], r["closed_at"], max_months, ctx),
            )
            for r in rows
        ],
        limit=limit,
        offset=offset,
    )


@router.get(
    "/situations/{situation_id}", response_model=SituationDetail, summary="Dossier d'une situation"
)
async def get_situation(
    situation_id: uuid.UUID, who: Team, runtime: Runtime, ctx: Ctx
) -> SituationDetail:
    """The situation with the identity in clear: its PRE's coordinators and its référent only."""
    async with tenancy.scoped(runtime, who.pre) as conn:
        row = await access.situation_for(conn, who, situation_id)
        referrals = await situations_repo.referral_identities(conn, who.pre, situation_id)
        limits = await referents_repo.pre_limits(conn, who.pre)
        consent = await consents_repo.active_consent(conn, who.pre, situation_id)
        handovers = await handovers_repo.open_handovers(conn, who.pre, situation_id)
        # Recorded before anything is decrypted: no line, no identity (503).
        readable = any(r["identity_enc"] is not None for r in referrals)
        await access_log.read(
            conn,
            who,
            "situation",
            situation_id,
            situation_id,
            ("situation", "consent", *(access_log.IDENTITY_GROUPS if readable else ())),
            access_log.TEAM_FOLLOW_UP,
        )
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
        consent_id=consent["id"] if consent else None,
        open_handovers=len(handovers),
        warnings=duration_warnings(row["started_on"], row["closed_at"], max_months, ctx),
    )
