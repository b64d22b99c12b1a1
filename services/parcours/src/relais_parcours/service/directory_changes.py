"""Use cases: a partner keeps its own entry; a coordinator approves before it is published.

A partner proposes its entry as it wants it (description, website, e-mail, services with
their waiting times and hours, places with theirs, contacts). The proposal starts from
the change already waiting, if any, which it supersedes: a partner who fixes a waiting
time after a description edit loses neither. A coordinator approves (published at once,
``partner.entry_published``) or rejects with a reason the partner reads. A proposal made
on a version the PRE has since changed cannot be approved as is (409): approving it
would undo that change silently.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from relais_contracts.v1.directory import PartnerChangeProposed, PartnerChangeRejected
from relais_parcours.adapters import directory
from relais_parcours.domain.partner import EntryProposal, PartnerBody, WaitTime, problems
from relais_parcours.service.directory import (
    EntryRefusedError,
    changed_parts,
    entry_of,
    publish,
)
from relais_parcours.service.ports import ParcoursWork, Uows
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError

_NOT_FOUND = DomainError("partner_not_found", "Partenaire introuvable.", 404)
_CHANGE_NOT_FOUND = DomainError("change_not_found", "Proposition introuvable.", 404)


def _own(who: Principal, partner_id: str) -> None:
    """Only the partner itself proposes changes to its entry (others: not found)."""
    if who.org != partner_id:
        raise _NOT_FOUND


async def _starting_point(
    conn: Conn, who: Principal, partner_id: str
) -> tuple[asyncpg.Record, PartnerBody, asyncpg.Record | None]:
    entry = await directory.entry_for_update(conn, who.tenant, partner_id)
    if entry is None:
        raise _NOT_FOUND
    pending = await directory.pending_change(conn, who.tenant, partner_id)
    base = PartnerBody(**pending["proposed"]) if pending else entry_of(entry)
    return entry, base, pending


async def propose(
    uows: Uows, who: Principal, partner_id: str, proposal: EntryProposal
) -> dict[str, Any]:
    _own(who, partner_id)
    async with uows() as uow:
        entry, base, pending = await _starting_point(uow.conn, who, partner_id)
        return await _propose(uow, who, entry, proposal.applied_to(base), pending)


async def set_wait_time(
    uows: Uows, who: Principal, partner_id: str, service_id: str, wait: WaitTime
) -> dict[str, Any]:
    """The current waiting time of one service, proposed like any change."""
    _own(who, partner_id)
    async with uows() as uow:
        entry, base, pending = await _starting_point(uow.conn, who, partner_id)
        if service_id not in {s.id for s in base.services}:
            raise DomainError("service_not_found", "Service introuvable dans la fiche.", 404)
        services = [
            s.model_copy(update=wait.model_dump()) if s.id == service_id else s
            for s in base.services
        ]
        proposed = base.model_copy(update={"services": services})
        return await _propose(uow, who, entry, proposed, pending)


async def _propose(
    uow: ParcoursWork,
    who: Principal,
    entry: asyncpg.Record,
    proposed: PartnerBody,
    pending: asyncpg.Record | None,
) -> dict[str, Any]:
    # Checked whole: a model_copy does not validate (a wrong reference or hour fails here).
    proposed = PartnerBody.model_validate(proposed.model_dump(mode="json"))
    found = problems(proposed)
    if found:
        raise EntryRefusedError(found)
    parts = changed_parts(entry_of(entry), proposed)
    if not parts:
        raise DomainError(
            "nothing_changed", "Cette proposition ne change rien à la fiche publiée.", 422
        )
    now = datetime.now(UTC)
    if pending is not None:
        await directory.decide_change(
            uow.conn, who.tenant, pending["id"], "superseded", who.sub, now
        )
    change = {
        "id": uuid.uuid4(),
        "pre_id": who.tenant,
        "partner_id": entry["id"],
        "proposed": proposed.model_dump(mode="json"),
        "parts": parts,
        "base_version": entry["version"],
        "proposed_by": who.sub,
        "proposed_at": now,
    }
    await directory.add_change(uow.conn, change)
    await uow.emit(
        PartnerChangeProposed(
            change_id=change["id"],
            partner_id=entry["id"],
            parts=parts,
            proposed_at=now,
            replaces_change_id=pending["id"] if pending else None,
        ),
        subject=str(change["id"]),
        tenant=who.tenant,
        sequence=1,
    )
    return {**change, "status": "pending", "decided_at": None, "reason": None}


async def changes(
    uows: Uows,
    who: Principal,
    *,
    status: str | None,
    partner_id: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    """The proposals of the PRE's partners (or of one); a partner reads its own only."""
    if (
        partner_id is not None
        and who.has_role("partner")
        and not who.has_role("coordinator", "admin")
    ):
        _own(who, partner_id)
    async with uows() as uow:
        return await directory.changes(
            uow.conn, who.tenant, status=status, partner_id=partner_id, limit=limit, offset=offset
        )


async def change_beside_entry(
    uows: Uows, who: Principal, change_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """A proposal and the entry as published now."""
    async with uows() as uow:
        change = await directory.change(uow.conn, who.tenant, change_id)
        entry = (
            await directory.entry(uow.conn, who.tenant, change["partner_id"]) if change else None
        )
    if change is None or entry is None:
        raise _CHANGE_NOT_FOUND
    return change, entry


async def _pending(conn: Conn, who: Principal, change_id: uuid.UUID) -> asyncpg.Record:
    change = await directory.change_for_update(conn, who.tenant, change_id)
    if change is None:
        raise _CHANGE_NOT_FOUND
    if change["status"] != "pending":
        raise DomainError(
            "change_not_pending", "Cette proposition a déjà été traitée ou remplacée.", 409
        )
    return change


async def approve(uows: Uows, who: Principal, change_id: uuid.UUID) -> None:
    async with uows() as uow:
        change = await _pending(uow.conn, who, change_id)
        entry = await directory.entry_for_update(uow.conn, who.tenant, change["partner_id"])
        if entry is None:
            raise _NOT_FOUND
        if entry["version"] != change["base_version"]:
            raise DomainError(
                "entry_changed_since",
                "La fiche a été modifiée depuis cette proposition : refusez-la et demandez au "
                "partenaire de la refaire sur la fiche actuelle.",
                409,
            )
        await publish(
            uow,
            PartnerBody(**change["proposed"]),
            origin="change_approved",
            change_id=change_id,
        )
        await directory.decide_change(
            uow.conn, who.tenant, change_id, "approved", who.sub, datetime.now(UTC)
        )


async def reject(uows: Uows, who: Principal, change_id: uuid.UUID, reason: str) -> None:
    async with uows() as uow:
        change = await _pending(uow.conn, who, change_id)
        now = datetime.now(UTC)
        await directory.decide_change(
            uow.conn, who.tenant, change_id, "rejected", who.sub, now, reason
        )
        await uow.emit(
            PartnerChangeRejected(
                change_id=change_id, partner_id=change["partner_id"], rejected_at=now
            ),
            subject=str(change_id),
            tenant=who.tenant,
            sequence=2,
        )
