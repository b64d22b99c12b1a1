"""The HSDS API (Open Referral HSDS 3, read side) of each PRE's partner directory.

Base URL of a PRE's directory: ``/hsds/{pre_id}``; under it the HSDS paths
(``/organizations``, ``/services``, ``/service_at_locations``, ``/taxonomies``...),
their paging envelope and filters. A token is needed unless the PRE made its directory
public (``PUT /v1/directory/settings``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from relais_contracts.types import PreId
from relais_parcours.context import Ctx
from relais_parcours.domain.hsds import HSDS_VERSION
from relais_parcours.service import hsds_read
from relais_parcours.service.hsds_read import Paging, Reading, ServiceFilter
from relais_runtime.auth import Principal, current_principal

router = APIRouter(prefix="/hsds/{pre_id}", tags=["HSDS"])

Pre = Annotated[PreId, Path(description="Le PRE dont c'est l'annuaire.", alias="pre_id")]
_bearer = HTTPBearer(auto_error=False, description="Facultatif quand l'annuaire est public.")


async def maybe_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller if a token is presented (checked as anywhere else), else None."""
    if credentials is None:
        return None
    return await current_principal(request, credentials)


Caller = Annotated[Principal | None, Depends(maybe_principal)]


async def reading(tenant: Pre, who: Caller, ctx: Ctx) -> AsyncIterator[Reading]:
    async with hsds_read.reading(ctx.units.scoped(tenant), who, tenant) as read:
        yield read


Read = Annotated[Reading, Depends(reading)]
Search = Annotated[
    str | None,
    Query(
        max_length=200, pattern=r"^[^\x00]*$", description="Recherche plein texte (tous les mots)."
    ),
]
Page = Annotated[int, Query(ge=1, le=100_000, description="Numéro de page, à partir de 1.")]
PerPage = Annotated[int, Query(ge=1, le=200, description="Résultats par page.")]
Uuid = Annotated[uuid.UUID | None, Query()]
Full = Annotated[bool, Query(description="Imbriquer chaque lieu.")]


def _filter(
    ctx: Ctx,
    search: Search = None,
    taxonomy_term_id: Uuid = None,
    taxonomy_id: Uuid = None,
    organization_id: Uuid = None,
    modified_after: Annotated[datetime | None, Query()] = None,
) -> ServiceFilter:
    if modified_after is not None and modified_after.tzinfo is None:
        # A time without offset is the PRE's local time, like every date it reads.
        modified_after = modified_after.replace(tzinfo=ZoneInfo(ctx.settings.timezone))
    return ServiceFilter(search, taxonomy_term_id, taxonomy_id, organization_id, modified_after)


Filter = Annotated[ServiceFilter, Depends(_filter)]


@router.get("", summary="HSDS: version de l'API de l'annuaire")
async def get_root(request: Request, read: Read) -> dict[str, Any]:
    return {"version": HSDS_VERSION, "openapi_url": str(request.url_for("openapi"))}


@router.get("/organizations", summary="HSDS: organisations (paginées)")
async def get_organizations(
    read: Read, search: Search = None, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    return await hsds_read.organizations(
        read.conn, read.tenant, search, Paging(page, per_page), public=read.public
    )


@router.get("/organizations/{id}", summary="HSDS: une organisation, tout imbriqué")
async def get_organization(read: Read, id: uuid.UUID) -> dict[str, Any]:
    return await hsds_read.organization(read.conn, read.tenant, id, public=read.public)


@router.get("/services", summary="HSDS: services (paginés, filtres)")
async def get_services(
    read: Read, where: Filter, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    return await hsds_read.services(
        read.conn, read.tenant, where, Paging(page, per_page), public=read.public
    )


@router.get("/services/{id}", summary="HSDS: un service, tout imbriqué")
async def get_service(read: Read, id: uuid.UUID) -> dict[str, Any]:
    return await hsds_read.service(read.conn, read.tenant, id, public=read.public)


@router.get("/service_at_locations", summary="HSDS: services en un lieu (paginés, filtres)")
async def get_service_at_locations(
    read: Read, where: Filter, page: Page = 1, per_page: PerPage = 50, full: Full = False
) -> dict[str, Any]:
    return await hsds_read.service_at_locations(
        read.conn, read.tenant, where, Paging(page, per_page), full=full, public=read.public
    )


@router.get("/service_at_locations/{id}", summary="HSDS: un service en un lieu")
async def get_service_at_location(read: Read, id: uuid.UUID) -> dict[str, Any]:
    return await hsds_read.service_at_location(read.conn, read.tenant, id, public=read.public)


@router.get("/taxonomies", summary="HSDS: taxonomies de l'annuaire")
async def get_taxonomies(read: Read, page: Page = 1, per_page: PerPage = 50) -> dict[str, Any]:
    return hsds_read.taxonomies(Paging(page, per_page))


@router.get("/taxonomy_terms", summary="HSDS: termes des taxonomies")
async def get_taxonomy_terms(
    read: Read, taxonomy_id: Uuid = None, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    return hsds_read.taxonomy_terms(taxonomy_id, Paging(page, per_page))
