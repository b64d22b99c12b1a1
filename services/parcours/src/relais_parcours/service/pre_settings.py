"""The PRE's own limits: caseload per référent, maximum length of a parcours."""

from __future__ import annotations

from relais_parcours.adapters import referents_repo
from relais_parcours.context import Parcours
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal


async def limits(uows: Uows, ctx: Parcours, who: Principal) -> dict[str, int]:
    """The PRE's limits, the service's defaults where it set none."""
    async with uows() as uow:
        own = await referents_repo.pre_limits(uow.conn, who.tenant)
    return {
        "caseload_limit": own["caseload_limit"] or ctx.settings.caseload_limit,
        "max_duration_months": own["max_duration_months"] or ctx.settings.max_duration_months,
    }


async def set_limits(
    uows: Uows,
    who: Principal,
    *,
    caseload_limit: int | None,
    max_duration_months: int | None,
) -> None:
    """Empty: the service's default."""
    async with uows() as uow:
        await referents_repo.set_pre_limits(
            uow.conn, who.tenant, caseload_limit, max_duration_months
        )
