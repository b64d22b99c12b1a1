"""Use cases of the partner directory: record an entry, read it, who reads the HSDS API."""

from __future__ import annotations

from typing import Any

import asyncpg

from relais_parcours.adapters import directory
from relais_parcours.domain.hsds import Directory, organization_id
from relais_parcours.domain.partner import PartnerBody, Problem, problems
from relais_runtime.auth import Principal, ensure_same_pre
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

#: Who belongs to a PRE's directory readers when it is not public: staff and partners.
MEMBERS = ("coordinator", "referent", "admin", "partner")


class EntryRefusedError(Exception):
    """The entry breaks rules across its fields (each named)."""

    def __init__(self, found: list[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}:{p.code}" for p in found))
        self.problems = found


def entry_of(row: asyncpg.Record | dict[str, Any]) -> PartnerBody:
    return PartnerBody(**{k: row[k] for k in PartnerBody.model_fields})


def hsds_of(row: asyncpg.Record | dict[str, Any]) -> Directory:
    return Directory(entry_of(row), updated_at=row["updated_at"], hsds_id=row["hsds_id"])


async def save(conn: Conn, entry: PartnerBody, *, hsds_id: Any = None) -> None:
    """Record an entry whole (checked); an HSDS import passes the id its source gave it."""
    found = problems(entry)
    if found:
        raise EntryRefusedError(found)
    if not await directory.save_entry(
        conn, entry.model_dump(mode="json"), hsds_id or organization_id(entry.id)
    ):
        raise DomainError("partner_id_taken", "Cet identifiant est déjà utilisé par un autre PRE.")


async def record(runtime: ServiceRuntime, who: Principal, entry: PartnerBody) -> None:
    """An administrator or coordinator records a partner's entry (published at once)."""
    ensure_same_pre(who, entry.pre_id)
    async with runtime.pool.acquire() as conn:
        await save(conn, entry)


async def entry_row(runtime: ServiceRuntime, who: Principal, partner_id: str) -> asyncpg.Record:
    """One entry: the PRE's team reads any, a partner its own only (others: not found)."""
    only_partner = not who.has_role("coordinator", "referent", "admin")
    if only_partner and who.org != partner_id:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    async with runtime.pool.acquire() as conn:
        row = await directory.entry(conn, who.pre, partner_id)
    if row is None:
        raise DomainError("partner_not_found", "Partenaire introuvable.", 404)
    return row


async def ensure_may_read_hsds(conn: Conn, who: Principal | None, pre_id: str) -> None:
    """The HSDS API of a PRE: public if the PRE says so, else its staff and partners."""
    if await directory.hsds_read(conn, pre_id) == "public":
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
    ensure_same_pre(who, pre_id)
