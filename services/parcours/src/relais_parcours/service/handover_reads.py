"""Reading handovers: one, a page, the disclosure ledger, each as its reader may see it.

The PRE's team reads a handover whole; a partner reads its own, less what
:func:`~relais_parcours.domain.handover.withheld_from_partner` withholds at this instant
(the consent in force, the handover's status).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from relais_parcours.adapters import consents_repo, handovers_repo
from relais_parcours.adapters import directory as directory_repo
from relais_parcours.context import Parcours
from relais_parcours.domain.handover import partner_sees_content, withheld_from_partner
from relais_parcours.service import access, access_log, child_texts
from relais_parcours.service.dates import pre_day
from relais_parcours.service.handovers import NOT_FOUND
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.db import Conn

#: A handover as shown to its reader: column -> value, withheld ones set to None.
HandoverSeen = dict[str, Any]


def _team(who: Principal) -> bool:
    return who.has_role("coordinator", "referent")


async def _visible_to_partner(
    conn: Conn, ctx: Parcours, who: Principal, rows: Sequence[asyncpg.Record]
) -> set[uuid.UUID]:
    """The handovers whose content the calling partner may still read, at this instant."""
    if not rows:
        return set()
    partner = await directory_repo.entry(conn, who.tenant, who.org)
    category = str(partner["category"]) if partner is not None else ""
    consents = await consents_repo.consents_in_force_read(
        conn, who.tenant, list({r["situation_id"] for r in rows})
    )
    today = pre_day(ctx)
    return {
        r["id"]
        for r in rows
        if partner_sees_content(
            r["status"], consents.get(r["situation_id"]), r["partner_id"], category, today
        )
    }


def _seen(row: HandoverSeen, who: Principal, visible: set[uuid.UUID]) -> HandoverSeen:
    values = dict(row)
    if not _team(who):
        values |= dict.fromkeys(withheld_from_partner(row["status"], row["id"] in visible))
    return values


async def find(uows: Uows, ctx: Parcours, who: Principal, handover_id: uuid.UUID) -> HandoverSeen:
    """One handover: 404 outside the PRE or to another partner, 403 to another référent."""
    async with uows() as uow:
        row = await handovers_repo.handover_view(uow.conn, who.tenant, handover_id)
        if row is None:
            raise NOT_FOUND
        if _team(who):
            await access.situation_in(uow, who, row["situation_id"])
            visible = {row["id"]}
        elif row["partner_id"] != who.org:
            raise NOT_FOUND
        else:
            visible = await _visible_to_partner(uow.conn, ctx, who, [row])
        [opened] = await child_texts.with_action_titles(uow, ctx, who.tenant, [row])
    return _seen(opened, who, visible)


async def page(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    *,
    situation_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[HandoverSeen]:
    """The team's handovers (a référent: of their situations), or a partner's own."""
    referent_id = partner_id = None
    async with uows() as uow:
        if _team(who):
            if situation_id is not None:
                await access.situation_in(uow, who, situation_id)
            referent_id = await access.scope_in(uow, who)
        else:
            partner_id, situation_id = who.org, None
        rows = await handovers_repo.list_handovers(
            uow.conn,
            who.tenant,
            partner_id=partner_id,
            situation_id=situation_id,
            status=status,
            limit=limit,
            offset=offset,
            referent_id=referent_id,
        )
        visible = (
            {r["id"] for r in rows}
            if partner_id is None
            else await _visible_to_partner(uow.conn, ctx, who, rows)
        )
        opened = await child_texts.with_action_titles(uow, ctx, who.tenant, rows)
    return [_seen(r, who, visible) for r in opened]


async def disclosures(
    uows: Uows, who: Principal, situation_id: uuid.UUID, limit: int, offset: int
) -> list[asyncpg.Record]:
    """Who read what of the child's data, when; the reading itself is logged."""
    async with uows() as uow:
        await access.situation_in(uow, who, situation_id)
        rows = await handovers_repo.disclosures(uow.conn, who.tenant, situation_id, limit, offset)
        await uow.record_access(
            access_log.readout(
                who,
                "disclosure_ledger",
                situation_id,
                situation_id,
                ("disclosures",),
                access_log.TEAM_FOLLOW_UP,
            )
        )
    return rows
