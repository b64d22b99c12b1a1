"""Reading the team's work: meetings and their agenda, référents, a situation's référents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from relais_parcours.adapters import referents_repo, reviews_repo
from relais_parcours.context import Parcours
from relais_parcours.service import access, child_texts
from relais_parcours.service.ports import Uows
from relais_parcours.service.review import MEETING_NOT_FOUND
from relais_runtime.auth import Principal


@dataclass(frozen=True)
class MeetingFile:
    """A meeting and its agenda, each item's note as the reader may read it."""

    row: asyncpg.Record
    agenda: list[dict[str, Any]]


def _agenda_item(
    ctx: Parcours, row: asyncpg.Record, who: Principal, mine: uuid.UUID | None
) -> dict[str, Any]:
    values = dict(row)
    # Under the child's key since issue 15; rows written before keep the clear column.
    values["note"] = (
        child_texts.unseal(ctx, row["wrapped_key"], row["subject_id"], row["note_enc"])
        or row["note"]
    )
    # The team's words about a child are for the coordination and that child's référent:
    # another référent at the same meeting sees the decision, not the note.
    if not who.has_role("coordinator") and (mine is None or row["referent_id"] != mine):
        values["note"] = None
    return values


async def meeting(uows: Uows, ctx: Parcours, who: Principal, meeting_id: uuid.UUID) -> MeetingFile:
    async with uows() as uow:
        row = await reviews_repo.get_meeting(uow.conn, who.tenant, meeting_id)
        if row is None:
            raise MEETING_NOT_FOUND
        items = await reviews_repo.agenda(uow.conn, who.tenant, meeting_id)
        me = (
            None if who.has_role("coordinator") else await uow.referents.by_sub(who.tenant, who.sub)
        )
    mine = me["id"] if me is not None else None
    return MeetingFile(row, [_agenda_item(ctx, i, who, mine) for i in items])


async def meetings(uows: Uows, who: Principal, limit: int, offset: int) -> list[asyncpg.Record]:
    async with uows() as uow:
        return await reviews_repo.list_meetings(uow.conn, who.tenant, limit, offset)


async def referents(uows: Uows, who: Principal, limit: int, offset: int) -> list[asyncpg.Record]:
    """The PRE's référents with their caseload."""
    async with uows() as uow:
        return await referents_repo.list_referents(uow.conn, who.tenant, limit, offset)


async def assignments(
    uows: Uows, ctx: Parcours, who: Principal, situation_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The situation's référents, past and present, each override reason in clear."""
    rows = await access.rows_of_situation(uows, who, situation_id, referents_repo.assignments)
    return [
        dict(r)
        | {
            "override_reason": child_texts.unseal(
                ctx, r["wrapped_key"], r["subject_id"], r["override_reason_enc"]
            )
            or r["override_reason"]
        }
        for r in rows
    ]
