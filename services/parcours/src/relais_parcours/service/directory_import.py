"""Use case: a coordinator loads an HSDS 3 directory into the PRE's (ADR 0009).

Every organization of the file is matched to an entry of the PRE by its HSDS id, else by
the Relais identifier a Relais export carries, else it is new (a slug made from its name,
free across PREs). A dry run says, record by record, what would be created or updated and
which fields change, and why a record is refused. A real import is all or nothing: one
refused record and nothing is written. Entries the file does not mention are left alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from relais_parcours.adapters import directory
from relais_parcours.domain.hsds_import import Candidate, check, read_organization
from relais_parcours.domain.partner import PartnerBody
from relais_parcours.service.directory import changed_parts, entry_of, publish
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.db import Conn


@dataclass
class Outcome:
    """What the import does (or would do) with one organization of the file."""

    position: int
    name: str | None
    hsds_id: uuid.UUID | None
    partner_id: str | None
    action: str  # create | update | unchanged | invalid
    changes: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    applied: bool
    records: list[Outcome]

    @property
    def invalid(self) -> list[Outcome]:
        return [r for r in self.records if r.action == "invalid"]

    def counts(self) -> dict[str, int]:
        actions = ("create", "update", "unchanged", "invalid")
        return {a: sum(1 for r in self.records if r.action == a) for a in actions}


async def import_directory(
    uows: Uows, who: Principal, organizations: list[Any], *, dry_run: bool
) -> ImportReport:
    async with uows() as uow:
        planned: list[tuple[Outcome, PartnerBody | None]] = []
        slugs: set[str] = set()
        seen: set[uuid.UUID] = set()
        for position, org in enumerate(organizations):
            c = read_organization(position, who.tenant, org)
            if c.hsds_id in seen:
                c.refuse(
                    "id", "duplicate_id", "Cette organisation figure deux fois dans le fichier."
                )
            if c.hsds_id:
                seen.add(c.hsds_id)
            planned.append(await _plan(uow.conn, who.tenant, c, slugs))
        report = ImportReport(dry_run, False, [o for o, _ in planned])
        if dry_run or report.invalid:
            return report
        for outcome, entry in planned:
            if entry is not None and outcome.action in ("create", "update"):
                await publish(uow, entry, origin="imported", hsds_id=outcome.hsds_id)
        report.applied = True
        return report


async def _plan(
    conn: Conn, tenant: str, c: Candidate, slugs: set[str]
) -> tuple[Outcome, PartnerBody | None]:
    existing = await directory.entry_by_hsds_id(conn, tenant, c.hsds_id) if c.hsds_id else None
    if existing is None and c.slug_hint:
        existing = await directory.entry(conn, tenant, c.slug_hint)
    if existing is not None:
        c.entry["id"] = existing["id"]
    elif not c.errors:
        c.entry["id"] = await _free_slug(conn, c.entry["id"], slugs)
    slugs.add(c.entry["id"])
    entry = check(c)
    outcome = Outcome(
        c.position, c.name, c.hsds_id, c.entry.get("id"), "invalid", [], c.errors, c.notes
    )
    if entry is None:
        return outcome, None
    if existing is None:
        outcome.action = "create"
        return outcome, entry
    outcome.changes = changed_parts(entry_of(existing), entry)
    outcome.action = "update" if outcome.changes else "unchanged"
    return outcome, entry


async def _free_slug(conn: Conn, wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted-2``... : a slug no PRE uses and the file has not given yet."""
    for n in range(1, 1000):
        slug = wanted if n == 1 else f"{wanted[:58]}-{n}"
        if slug not in taken and not await directory.slug_taken(conn, slug):
            return slug
    return f"{wanted[:26]}-{uuid.uuid4()}"
