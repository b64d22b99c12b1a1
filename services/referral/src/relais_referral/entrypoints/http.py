"""HTTP routes of the referral service: thin, they translate and call a use case."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from relais_referral.adapters import repository
from relais_referral.config import ReferralSettings
from relais_referral.entrypoints.schemas import (
    InstitutionRequest,
    InstitutionView,
    ReferralRequest,
    ReferralView,
    TimelineEntry,
)
from relais_referral.service.submit_referral import submit_referral
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal, ensure_same_pre, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.sealing import PreKeys

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Institution = Annotated[Principal, Depends(require_roles("institution"))]
Admin = Annotated[Principal, Depends(require_roles("admin", "coordinator"))]

NOT_FOUND = DomainError("referral_not_found", "Orientation introuvable.", status=404)


@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralView,
    summary="Orienter un enfant vers le PRE (fiche de liaison)",
)
async def post_referral(body: ReferralRequest, who: Institution, runtime: Runtime) -> ReferralView:
    ensure_same_pre(who, body.pre_id)
    settings = runtime.settings
    assert isinstance(settings, ReferralSettings)
    referral_id = await submit_referral(
        runtime, PreKeys(settings.keys_dir), institution_id=who.org, request=body
    )
    return await _view(runtime, who, referral_id)


@router.get("/referrals/{referral_id}", response_model=ReferralView)
async def get_referral(referral_id: uuid.UUID, who: Institution, runtime: Runtime) -> ReferralView:
    return await _view(runtime, who, referral_id)


async def _view(runtime: ServiceRuntime, who: Principal, referral_id: uuid.UUID) -> ReferralView:
    async with runtime.pool.acquire() as conn:
        row = await repository.get_referral(conn, who.pre, referral_id)
        # An institution sees only its own referrals; another's is "not found", not "forbidden".
        if row is None or row["institution_id"] != who.org:
            raise NOT_FOUND
        timeline = await repository.get_timeline(conn, referral_id)
    return ReferralView(
        id=row["id"],
        pre_id=row["pre_id"],
        institution_id=row["institution_id"],
        status=row["status"],
        submitted_at=row["submitted_at"],
        known_subject=row["known_subject"],
        timeline=[TimelineEntry(**dict(t)) for t in timeline],
    )


@router.put(
    "/institutions/{institution_id}",
    response_model=InstitutionView,
    summary="Enregistrer un établissement orienteur",
)
async def put_institution(
    institution_id: str, body: InstitutionRequest, who: Admin, runtime: Runtime
) -> InstitutionView:
    ensure_same_pre(who, body.pre_id)
    if body.id != institution_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    async with runtime.pool.acquire() as conn:
        if not await repository.upsert_institution(conn, body.model_dump(mode="json")):
            raise DomainError(
                "institution_id_taken", "Cet identifiant est déjà utilisé par un autre PRE."
            )
    return InstitutionView(**body.model_dump())


@router.get("/institutions", response_model=list[InstitutionView])
async def get_institutions(who: Admin, runtime: Runtime) -> list[InstitutionView]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_institutions(conn, who.pre)
    return [InstitutionView(**{k: r[k] for k in InstitutionView.model_fields}) for r in rows]
