"""Use cases of référents: register them, assign them within caseload limits, keep history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from relais_contracts.v1.parcours import ReferentAssigned, ReferentRegistered
from relais_parcours.context import Parcours
from relais_parcours.domain.review import caseload_allows
from relais_parcours.domain.situation import Stage
from relais_parcours.service import child_texts
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError


async def assign(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    referent_id: uuid.UUID,
    override_reason: str | None,
) -> bool:
    """Assign (or change) the référent; returns whether the caseload limit was overridden."""
    now = datetime.now(UTC)
    async with uows() as uow:
        situation = await uow.situations.get(who.tenant, situation_id, lock=True)
        if situation is None:
            raise DomainError("situation_not_found", "Situation introuvable.", 404)
        if situation["stage"] != Stage.IN_PARCOURS:
            raise DomainError(
                "situation_not_in_parcours",
                "Un·e référent·e ne se désigne que pour une situation prise en charge "
                "par l'équipe.",
            )
        referent = await uow.referents.get(who.tenant, referent_id)
        if referent is None or not referent["active"]:
            raise DomainError("referent_not_found", "Référent·e introuvable dans ce PRE.", 404)
        previous = situation["referent_id"]
        if previous == referent_id:
            raise DomainError(
                "referent_already_assigned", "Cette personne est déjà référente de la situation."
            )
        await uow.referents.lock(who.tenant, referent_id)  # caseload counted under a lock
        current = await uow.referents.caseload(who.tenant, referent_id)
        limits = await uow.referents.limits(who.tenant)
        limit = (
            referent["caseload_limit"] or limits["caseload_limit"] or ctx.settings.caseload_limit
        )
        over = not caseload_allows(current, limit)
        if over and not override_reason:
            raise DomainError(
                "caseload_full",
                f"{referent['display_name']} suit déjà {current} situation(s) pour une limite "
                f"de {limit}. Choisissez une autre personne, ou la coordination peut passer "
                "outre en indiquant un motif (override_reason).",
            )
        await uow.referents.end_assignment(who.tenant, situation_id, now)
        await uow.referents.add_assignment(
            situation_id=situation_id,
            tenant=who.tenant,
            referent_id=referent_id,
            assigned_at=now,
            assigned_by=who.sub,
            over_limit=over,
            override_reason_enc=await child_texts.seal_in(
                uow, ctx, who.tenant, situation["subject_id"], override_reason if over else None
            ),
        )
        await uow.situations.set_referent(who.tenant, situation_id, referent_id)
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(
            ReferentAssigned(
                situation_id=situation_id,
                subject_id=situation["subject_id"],
                referent_id=referent_id,
                previous_referent_id=previous,
                assigned_at=now,
            ),
            subject=str(situation_id),
            tenant=who.tenant,
            sequence=version,
        )
    return over


async def register(
    uows: Uows, who: Principal, referent_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """Write the référent's directory entry and tell which login it signs in with
    (notifications address the référent there, ADR 0006)."""
    async with uows() as uow:
        version = await uow.referents.save(who.tenant, {"id": referent_id, **values})
        if version is None:
            raise DomainError(
                "referent_conflict",
                "Cet identifiant ou cet identifiant de connexion est déjà utilisé.",
            )
        await uow.emit(
            ReferentRegistered(
                referent_id=referent_id,
                user_sub=values["user_sub"],
                active=values["active"],
                registered_at=datetime.now(UTC),
            ),
            subject=str(referent_id),
            tenant=who.tenant,
            sequence=version,
        )
