"""HTTP routes of the partner directory in Relais's own terms (slugs), and its settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from relais_parcours.adapters import directory as store
from relais_parcours.domain.partner import PartnerBody, Problem
from relais_parcours.entrypoints.validation import Body, Offset, PartnerId
from relais_parcours.service import directory
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Admin = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
Reader = Annotated[Principal, Depends(require_roles(*directory.MEMBERS))]


def refused(found: list[Problem], prefix: tuple[str, ...] = ("body",)) -> RequestValidationError:
    """A 422 naming each field an entry's cross-field rules refuse."""
    return RequestValidationError(
        [{"type": p.code, "loc": (*prefix, *p.field.split(".")), "msg": p.message} for p in found]
    )


@router.put(
    "/partners/{partner_id}", response_model=PartnerBody, summary="Enregistrer un partenaire"
)
async def put_partner(
    partner_id: PartnerId, body: PartnerBody, who: Admin, runtime: Runtime
) -> PartnerBody:
    if body.id != partner_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    try:
        await directory.record(runtime, who, body)
    except directory.EntryRefusedError as exc:
        raise refused(exc.problems) from None
    return body


@router.get("/partners", response_model=list[PartnerBody], summary="Annuaire des partenaires")
async def get_partners(
    who: Team,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[PartnerBody]:
    async with runtime.pool.acquire() as conn:
        rows, _ = await store.entries(conn, who.pre, limit=limit, offset=offset)
    return [directory.entry_of(r) for r in rows]


@router.get("/partners/{partner_id}", response_model=PartnerBody, summary="Un partenaire")
async def get_partner(partner_id: PartnerId, who: Reader, runtime: Runtime) -> PartnerBody:
    return directory.entry_of(await directory.entry_row(runtime, who, partner_id))


@router.get(
    "/partners/{partner_id}/hsds",
    summary="Le partenaire au format Open Referral HSDS 3 (organization compilée)",
)
async def get_partner_hsds(partner_id: PartnerId, who: Reader, runtime: Runtime) -> dict[str, Any]:
    return directory.hsds_of(await directory.entry_row(runtime, who, partner_id)).organization()


class DirectorySettings(Body):
    hsds_read: Literal["members", "public"] = "members"


@router.put(
    "/directory/settings",
    response_model=DirectorySettings,
    summary="Qui peut lire l'annuaire par l'API HSDS : membres du PRE ou public",
)
async def put_directory_settings(
    body: DirectorySettings, who: Admin, runtime: Runtime
) -> DirectorySettings:
    async with runtime.pool.acquire() as conn:
        await store.set_hsds_read(conn, who.pre, body.hsds_read)
    return body


@router.get(
    "/directory/settings", response_model=DirectorySettings, summary="Réglages de l'annuaire"
)
async def get_directory_settings(who: Reader, runtime: Runtime) -> DirectorySettings:
    async with runtime.pool.acquire() as conn:
        return DirectorySettings(hsds_read=await store.hsds_read(conn, who.pre))
