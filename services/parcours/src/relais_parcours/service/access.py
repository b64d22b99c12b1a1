"""Who may see and act on a situation: the PRE's coordinators, its current référent, and
a guardian of that child (a session scoped to this one situation)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from relais_parcours.service.ports import Row, Stores, Uows
from relais_runtime.auth import GUARDIAN, Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError

NOT_FOUND = DomainError("situation_not_found", "Situation introuvable.", 404)


async def scope_in(uow: Stores, who: Principal) -> uuid.UUID | None:
    """None for a coordinator (whole PRE); the référent's id for a référent."""
    if who.has_role("coordinator"):
        return None
    me = await uow.referents.by_sub(who.tenant, who.sub)
    if me is None:
        raise DomainError(
            "referent_unknown",
            "Votre compte n'est pas enregistré comme référent·e de ce PRE : "
            "demandez à la coordination de vous ajouter.",
            403,
        )
    referent_id: uuid.UUID = me["id"]
    return referent_id


#: A read of one situation's rows: (conn, PRE, situation id) -> rows.
SituationRows = Callable[[Conn, str, uuid.UUID], Awaitable[list[asyncpg.Record]]]


async def rows_of_situation(
    uows: Uows, who: Principal, situation_id: uuid.UUID, read: SituationRows
) -> list[asyncpg.Record]:
    """``read`` in a unit of work of the caller's PRE, once the caller may see the situation."""
    async with uows() as uow:
        await situation_in(uow, who, situation_id)
        return await read(uow.conn, who.tenant, situation_id)


async def situation_in(
    uow: Stores, who: Principal, situation_id: uuid.UUID, *, lock: bool = False
) -> Row:
    """The situation if the caller may work on it (404 outside the PRE, 403 if not theirs),
    read through the unit's ``situations`` and ``referents``."""
    if who.has_role(GUARDIAN) and str(situation_id) != who.situation:
        raise NOT_FOUND  # another child's situation does not exist for this family
    row = await uow.situations.get(who.tenant, situation_id, lock=lock)
    if row is None:
        raise NOT_FOUND
    if who.has_role(GUARDIAN):
        return row
    mine = await scope_in(uow, who)
    if mine is None or row["referent_id"] == mine:
        return row
    if row["referent_id"] is None:
        raise DomainError(
            "situation_not_assigned",
            "Aucun·e référent·e n'est encore désigné·e pour cette situation : seule la "
            "coordination y a accès pour l'instant.",
            403,
        )
    raise DomainError(
        "not_your_situation",
        "Cette situation est suivie par un·e autre référent·e.",
        403,
    )
