"""HTTP routes of the parcours service (the PRE team's working tool)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, HttpUrl, StringConstraints

from relais_contracts.types import PartnerCategory, PreId, Slug
from relais_parcours.adapters import repository
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Ctx
from relais_parcours.domain.situation import duration_warning
from relais_parcours.entrypoints.validation import Body, Offset, PartnerId
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
Directory = Annotated[
    Principal, Depends(require_roles("coordinator", "referent", "admin", "partner"))
]


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
    async with runtime.pool.acquire() as conn:
        mine = await access.scope_referent(conn, who)
        rows = await repository.list_situations(
            conn, who.pre, stage=stage, referent_id=mine, limit=limit, offset=offset
        )
        limits = await repository.pre_limits(conn, who.pre)
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
    async with runtime.pool.acquire() as conn:
        row = await access.situation_for(conn, who, situation_id)
        referrals = await repository.referral_identities(conn, who.pre, situation_id)
        limits = await repository.pre_limits(conn, who.pre)
        consent = await repository.active_consent(conn, situation_id)
        handovers = await repository.open_handovers(conn, situation_id)
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


#: An e-mail address (light check: the directory is typed by staff, not a delivery target).
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class HsdsPhone(Body):
    number: str = Field(min_length=3, max_length=40)


class HsdsContact(Body):
    """HSDS 3 ``contact`` (a professional's contact at the partner, never a family's)."""

    id: Slug
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    phones: list[HsdsPhone] = Field(default_factory=list, max_length=5)


class HsdsAddress(Body):
    address_1: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(pattern=r"^[0-9]{5}$")
    country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")


class HsdsLocation(Body):
    """HSDS 3 ``location`` with its physical address."""

    id: Slug
    location_type: Literal["physical", "virtual", "postal"] = "physical"
    name: str | None = Field(default=None, max_length=200)
    addresses: list[HsdsAddress] = Field(default_factory=list, max_length=3)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class HsdsService(Body):
    """HSDS 3 ``service``, with the waiting time (``wait_time``, and in days for figures)."""

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = "active"
    url: HttpUrl | None = None
    email: Email | None = None
    minimum_age: int | None = Field(default=None, ge=0, le=25)
    maximum_age: int | None = Field(default=None, ge=0, le=25)
    wait_time: str | None = Field(
        default=None, max_length=200, description="Waiting time as the partner states it."
    )
    wait_time_days: int | None = Field(
        default=None, ge=0, le=3650, description="Typical wait in days (Relais extension)."
    )
    location_ids: list[Slug] = Field(default_factory=list, max_length=20)
    contact_ids: list[Slug] = Field(default_factory=list, max_length=20)


class PartnerBody(Body):
    """A partner organisation, shaped after Open Referral HSDS 3 ``organization``."""

    id: Slug
    pre_id: PreId
    name: str = Field(min_length=1, max_length=200)
    category: PartnerCategory
    description: str | None = Field(default=None, max_length=2000)
    website: HttpUrl | None = None
    email: Email | None = None
    services: list[HsdsService] = Field(default_factory=list, max_length=50)
    locations: list[HsdsLocation] = Field(default_factory=list, max_length=50)
    contacts: list[HsdsContact] = Field(default_factory=list, max_length=50)


def _partner(row: Any) -> PartnerBody:
    return PartnerBody(**{k: row[k] for k in PartnerBody.model_fields})


@router.put(
    "/partners/{partner_id}", response_model=PartnerBody, summary="Enregistrer un partenaire"
)
async def put_partner(
    partner_id: PartnerId, body: PartnerBody, who: Admin, runtime: Runtime
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
async def get_partners(
    who: Team,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[PartnerBody]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_partners(conn, who.pre, limit, offset)
    return [_partner(r) for r in rows]


async def _one_partner(runtime: ServiceRuntime, who: Principal, partner_id: str) -> Any:
    only_partner = not who.has_role("coordinator", "referent", "admin")
    if only_partner and who.org != partner_id:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    async with runtime.pool.acquire() as conn:
        row = await repository.get_partner(conn, who.pre, partner_id)
    if row is None:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    return row


@router.get("/partners/{partner_id}", response_model=PartnerBody, summary="Un partenaire")
async def get_partner(partner_id: PartnerId, who: Directory, runtime: Runtime) -> PartnerBody:
    return _partner(await _one_partner(runtime, who, partner_id))


@router.get(
    "/partners/{partner_id}/hsds",
    summary="Le partenaire au format Open Referral HSDS 3 (organization compilée)",
)
async def get_partner_hsds(
    partner_id: PartnerId, who: Directory, runtime: Runtime
) -> dict[str, Any]:
    return hsds_organization(await _one_partner(runtime, who, partner_id))


def hsds_organization(row: Any) -> dict[str, Any]:
    """HSDS 3 compiled ``organization``: services, locations and contacts nested by id."""
    locations = {loc["id"]: loc for loc in row["locations"]}
    contacts = {c["id"]: c for c in row["contacts"]}
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"] or "",
        "email": row["email"],
        "website": row["website"],
        "last_modified": row["updated_at"].isoformat(),
        "services": [
            {
                **{k: v for k, v in s.items() if k not in ("location_ids", "contact_ids")},
                "organization_id": row["id"],
                "service_at_locations": [
                    {"id": f"{s['id']}-{lid}", "service_id": s["id"], "location": locations[lid]}
                    for lid in s.get("location_ids", [])
                    if lid in locations
                ],
                "contacts": [contacts[c] for c in s.get("contact_ids", []) if c in contacts],
            }
            for s in row["services"]
        ],
        "locations": [{**loc, "organization_id": row["id"]} for loc in row["locations"]],
        "contacts": [{**c, "organization_id": row["id"]} for c in row["contacts"]],
    }
