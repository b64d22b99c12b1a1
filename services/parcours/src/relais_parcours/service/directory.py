"""Use cases of the partner directory: record an entry, read it, who reads the HSDS API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from relais_contracts.v1.directory import PartnerEntryPublished, PublishedService
from relais_parcours.adapters import directory
from relais_parcours.domain.hsds import Directory, organization_id
from relais_parcours.domain.partner import PartnerBody, Problem, problems
from relais_parcours.service.ports import ParcoursWork, Uows
from relais_runtime.auth import Principal, ensure_same_tenant
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError

#: Who belongs to a PRE's directory readers when it is not public: staff and partners.
MEMBERS = ("coordinator", "referent", "admin", "partner")


class EntryRefusedError(Exception):
    """The entry breaks rules across its fields (each named)."""

    def __init__(self, found: list[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}:{p.code}" for p in found))
        self.problems = found


def entry_of(row: asyncpg.Record | dict[str, Any]) -> PartnerBody:
    return PartnerBody(
        **{k: row[k] for k in PartnerBody.model_fields if k != "tenant"}, tenant=row["pre_id"]
    )


def hsds_of(row: asyncpg.Record | dict[str, Any]) -> Directory:
    return Directory(entry_of(row), updated_at=row["updated_at"], hsds_id=row["hsds_id"])


#: The parts of an entry a change can touch (``partner.entry_published.parts``).
PARTS = ("name", "category", "description", "website", "email", "services", "locations", "contacts")


def changed_parts(before: PartnerBody | None, after: PartnerBody) -> list[str]:
    if before is None:
        return []
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return [p for p in PARTS if old[p] != new[p]]


async def publish(
    uow: ParcoursWork,
    entry: PartnerBody,
    *,
    origin: Literal["recorded", "imported", "change_approved"],
    hsds_id: uuid.UUID | None = None,
    change_id: uuid.UUID | None = None,
) -> None:
    """Record an entry whole (checked) and tell other services, in the caller's transaction.

    An entry recorded again unchanged is not a new version and says nothing. An HSDS
    import passes the id its source gave the organization.
    """
    found = problems(entry)
    if found:
        raise EntryRefusedError(found)
    before = await directory.entry(uow.conn, entry.tenant, entry.id)
    parts = changed_parts(entry_of(before) if before else None, entry)
    if before is not None and not parts:
        return
    if before is None and await directory.slug_taken(uow.conn, entry.id):
        raise DomainError("partner_id_taken", "Cet identifiant est déjà utilisé par un autre PRE.")
    saved = await directory.save_entry(
        uow.conn, entry.model_dump(mode="json"), hsds_id or organization_id(entry.id)
    )
    if saved is None:
        raise DomainError("partner_id_taken", "Cet identifiant est déjà utilisé par un autre PRE.")
    now = datetime.now(UTC)
    d = Directory(entry, updated_at=now, hsds_id=saved["hsds_id"])
    await uow.emit(
        PartnerEntryPublished(
            partner_id=entry.id,
            organization_id=d.id,
            category=entry.category,
            entry_version=saved["version"],
            origin=origin,
            change_id=change_id,
            parts=parts,
            services=[
                PublishedService(
                    service_id=d.service_id(s), status=s.status, wait_time_days=s.wait_time_days
                )
                for s in entry.services
            ],
            published_at=now,
        ),
        subject=entry.id,
        tenant=entry.tenant,
        sequence=saved["version"],
    )


async def record(uows: Uows, who: Principal, entry: PartnerBody) -> None:
    """An administrator or coordinator records a partner's entry (published at once)."""
    ensure_same_tenant(who, entry.tenant)
    async with uows() as uow:
        await publish(uow, entry, origin="recorded")


async def entry_row(uows: Uows, who: Principal, partner_id: str) -> asyncpg.Record:
    """One entry: the PRE's team reads any, a partner its own only (others: not found)."""
    only_partner = not who.has_role("coordinator", "referent", "admin")
    if only_partner and who.org != partner_id:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    async with uows() as uow:
        row = await directory.entry(uow.conn, who.tenant, partner_id)
    if row is None:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    return row


async def entries(uows: Uows, who: Principal, limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of the PRE's directory."""
    async with uows() as uow:
        rows, _ = await directory.entries(uow.conn, who.tenant, limit=limit, offset=offset)
    return rows


async def hsds_readers(uows: Uows, who: Principal) -> str:
    """Who reads the PRE's HSDS API: ``members`` or ``public``."""
    async with uows() as uow:
        return await directory.hsds_read(uow.conn, who.tenant)


async def set_hsds_readers(
    uows: Uows, who: Principal, readers: Literal["members", "public"]
) -> None:
    async with uows() as uow:
        await directory.set_hsds_read(uow.conn, who.tenant, readers)


async def ensure_may_read_hsds(conn: Conn, who: Principal | None, tenant: str) -> None:
    """The HSDS API of a PRE: public if the PRE says so, else its staff and partners."""
    if await directory.hsds_read(conn, tenant) == "public":
        return
    if who is None:
        raise DomainError(
            "token_missing",
            "L'annuaire de ce PRE est réservé à son équipe et à ses partenaires : "
            "présentez un jeton.",
            401,
            headers={"WWW-Authenticate": 'Bearer realm="relais"'},
        )
    if not who.has_role(*MEMBERS):
        raise DomainError(
            "forbidden_role", "Votre rôle ne vous permet pas de lire cet annuaire.", 403
        )
    ensure_same_tenant(who, tenant)
