"""Use cases of the HSDS API's read side: a PRE's directory as Open Referral HSDS 3.

Organizations are paged in SQL. Services and service-at-locations live inside their
organization's row: the organizations that may match are read in SQL (filters, search),
then their services are flattened, filtered and paged here; a PRE's directory is tens
to a few hundred partners, each with at most 50 services.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from relais_parcours.adapters import directory
from relais_parcours.domain import hsds
from relais_parcours.domain.hsds import Directory
from relais_parcours.domain.partner import HsdsService
from relais_parcours.service.directory import ensure_may_read_hsds, entry_of
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError


class Reading:
    """A connection to read one PRE's directory, once the caller may read it."""

    def __init__(self, conn: Conn, tenant: str, public: bool) -> None:
        self.conn, self.tenant, self.public = conn, tenant, public


@asynccontextmanager
async def reading(
    uows: Uows, who: Principal | None, tenant: Annotated[str, Query(alias="pre_id")]
) -> AsyncIterator[Reading]:
    """A read of ``tenant``'s directory (``uows``: units scoped to it): public if the PRE
    says so, else its members'."""
    async with uows() as uow:
        await ensure_may_read_hsds(uow.conn, who, tenant)
        # Contacts may name a person: only the PRE's members see them.
        yield Reading(uow.conn, tenant, public=who is None or who.tenant != tenant)


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class ServiceFilter:
    """The HSDS API's filters of services and service-at-locations (None: any)."""

    search: str | None = None
    taxonomy_term_id: uuid.UUID | None = None
    taxonomy_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None

    def categories(self) -> list[str] | None:
        """The partner categories the taxonomy filters leave (None: any; []: none)."""
        if self.taxonomy_id is not None and self.taxonomy_id not in {
            hsds.taxonomy_id(hsds.CATEGORY_TAXONOMY),
            hsds.taxonomy_id(hsds.SERVICE_TAXONOMY),
        }:
            return []
        if self.taxonomy_term_id is None:
            return None
        by_term = {hsds.category_term_id(code): code for code in hsds.CATEGORY_LABELS}
        if self.taxonomy_term_id in by_term:
            return [by_term[self.taxonomy_term_id]]
        wait = hsds.term_id(hsds.SERVICE_TAXONOMY, hsds.WAIT_TIME_TERM)
        return None if self.taxonomy_term_id == wait else []

    def keeps(self, d: Directory, service: HsdsService) -> bool:
        terms = d.term_ids(service)
        if self.taxonomy_term_id is not None and self.taxonomy_term_id not in terms:
            return False
        if self.taxonomy_id == hsds.taxonomy_id(hsds.SERVICE_TAXONOMY) and len(terms) < 2:
            return False  # the service taxonomy has one term so far: the waiting time
        if self.organization_id is not None and d.id != self.organization_id:
            return False
        text = d.service_text(service).casefold()
        return all(w.casefold() in text for w in (self.search or "").split())


def _directory(row: Any, public: bool) -> Directory:
    return Directory(
        entry_of(row),
        updated_at=row["updated_at"],
        hsds_id=row["hsds_id"],
        with_contacts=not public,
    )


async def organizations(
    conn: Conn, tenant: str, search: str | None, paging: Paging, *, public: bool
) -> dict[str, Any]:
    rows, total = await directory.entries(
        conn, tenant, search=search, limit=paging.per_page, offset=paging.offset
    )
    contents = [_directory(r, public).organization_summary() for r in rows]
    return hsds.page(contents, total, paging.page, paging.per_page)


async def organization(
    conn: Conn, tenant: str, organization_id: uuid.UUID, *, public: bool
) -> dict[str, Any]:
    row = await directory.entry_by_hsds_id(conn, tenant, organization_id)
    if row is None:
        raise DomainError("organization_not_found", "Organisation introuvable.", 404)
    return _directory(row, public).organization()


async def _services(
    conn: Conn, tenant: str, where: ServiceFilter, *, public: bool
) -> Iterator[tuple[Directory, HsdsService]]:
    categories = where.categories()
    if categories == []:
        return iter(())
    rows, _ = await directory.entries(
        conn,
        tenant,
        search=where.search,
        categories=categories,
        modified_after=where.modified_after,
    )
    found = [_directory(r, public) for r in rows]
    return ((d, s) for d in found for s in d.entry.services if where.keeps(d, s))


async def services(
    conn: Conn, tenant: str, where: ServiceFilter, paging: Paging, *, public: bool
) -> dict[str, Any]:
    matching = list(await _services(conn, tenant, where, public=public))
    chosen = matching[paging.offset : paging.offset + paging.per_page]
    contents = [d.service_summary(s) for d, s in chosen]
    return hsds.page(contents, len(matching), paging.page, paging.per_page)


async def service(
    conn: Conn, tenant: str, service_id: uuid.UUID, *, public: bool
) -> dict[str, Any]:
    for d, s in await _services(conn, tenant, ServiceFilter(), public=public):
        if d.service_id(s) == service_id:
            return {**d.service(s), "organization": d.organization_summary()}
    raise DomainError("service_not_found", "Service introuvable.", 404)


async def service_at_locations(
    conn: Conn, tenant: str, where: ServiceFilter, paging: Paging, *, full: bool, public: bool
) -> dict[str, Any]:
    matching = [
        (d, s, loc)
        for d, s in await _services(conn, tenant, where, public=public)
        for loc in d.places(s)
    ]
    chosen = matching[paging.offset : paging.offset + paging.per_page]
    contents = [d.service_at_location(s, loc, nested=full) for d, s, loc in chosen]
    return hsds.page(contents, len(matching), paging.page, paging.per_page)


async def service_at_location(
    conn: Conn, tenant: str, link_id: uuid.UUID, *, public: bool
) -> dict[str, Any]:
    for d, s in await _services(conn, tenant, ServiceFilter(), public=public):
        for loc in d.places(s):
            if d.service_at_location_id(s, loc.id) == link_id:
                return d.service_at_location(s, loc)
    raise DomainError("service_at_location_not_found", "Service en ce lieu introuvable.", 404)


def taxonomies(paging: Paging) -> dict[str, Any]:
    found = hsds.taxonomies()
    chosen = found[paging.offset : paging.offset + paging.per_page]
    return hsds.page(chosen, len(found), paging.page, paging.per_page)


def taxonomy_terms(taxonomy_id: uuid.UUID | None, paging: Paging) -> dict[str, Any]:
    found = [
        t
        for t in hsds.taxonomy_terms()
        if taxonomy_id is None or t["taxonomy_id"] == str(taxonomy_id)
    ]
    chosen = found[paging.offset : paging.offset + paging.per_page]
    return hsds.page(chosen, len(found), paging.page, paging.per_page)
