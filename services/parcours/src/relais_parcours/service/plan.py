"""Use cases of the individual plan: objectives and actions on the four axes.

The rules are the :class:`~relais_parcours.domain.plan.Plan`'s: each use case loads it,
lets it decide, stores what changed (its title under the child's key, a line in the access
log) and emits the ``plan.updated`` it returned.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from relais_contracts.v1.parcours import PlanUpdated
from relais_parcours.context import Parcours
from relais_parcours.domain.plan import Plan
from relais_parcours.service import access, access_log, child_texts, retries
from relais_parcours.service.dates import opened_on
from relais_parcours.service.ports import ParcoursWork, Row, Uows
from relais_runtime.auth import Principal


async def _plan(
    uow: ParcoursWork, ctx: Parcours, who: Principal, situation_id: uuid.UUID
) -> tuple[Row, Plan]:
    """The situation the caller may change, locked, and its plan."""
    situation = await access.situation_in(uow, who, situation_id, lock=True)
    return situation, await uow.plans.load(who.tenant, situation, opened_on(ctx, situation))


async def _recorded(
    uow: ParcoursWork,
    ctx: Parcours,
    who: Principal,
    situation: Any,
    record_type: str,
    item_id: uuid.UUID,
    values: dict[str, Any],
) -> dict[str, Any]:
    """Write the change's access-log line (the columns it writes, never their values) and
    seal its title under the child's key: the values as the repository stores them."""
    await uow.record_access(
        access_log.changed(
            who,
            record_type,
            item_id,
            situation["id"],
            access_log.plan_groups(values),
            access_log.TEAM_FOLLOW_UP,
        )
    )
    if "title" not in values:
        return values
    sealed = await child_texts.seal_in(
        uow, ctx, situation["pre_id"], situation["subject_id"], values["title"]
    )
    return {**values, "title": None, "title_enc": sealed}  # no clear copy left behind


async def _publish(uow: ParcoursWork, tenant: str, event: PlanUpdated) -> None:
    """Store the plan's new version and emit its event, next in the situation's sequence."""
    await uow.plans.set_version(tenant, event.situation_id, event.plan_version)
    version = await uow.situations.bump_version(tenant, event.situation_id)
    await uow.emit(event, subject=str(event.situation_id), tenant=tenant, sequence=version)


async def plan_updated(uow: ParcoursWork, tenant: str, situation: Row, now: datetime) -> None:
    """The plan changed outside its own use cases (a handover given or answered): emit its
    next version and counts. ``situation``: its row, locked by the caller."""
    # Counting needs no day: the opening's, which only the changes check, is left rough.
    plan = await uow.plans.load(tenant, situation, situation["opened_at"].date())
    await _publish(uow, tenant, plan.updated(now))


async def add_objective(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    values: dict[str, Any],
    *,
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    objective_id = uuid.uuid4()
    async with uows() as uow:
        earlier = await retries.claim_in(uow, who, retry, objective_id)
        if earlier is not None:
            return earlier
        situation, plan = await _plan(uow, ctx, who, situation_id)
        event = plan.add_objective(objective_id, values["axis"], values.get("target_on"), now)
        given = {k: v for k, v in values.items() if v is not None}
        stored = await _recorded(uow, ctx, who, situation, "plan_objective", objective_id, given)
        await uow.plans.add_objective(
            who.tenant, situation_id, plan.objectives[objective_id], stored["title_enc"], now
        )
        await _publish(uow, who.tenant, event)
    return objective_id


async def change_objective(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    objective_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    async with uows() as uow:
        situation, plan = await _plan(uow, ctx, who, situation_id)
        event = plan.change_objective(objective_id, changes, now)
        stored = await _recorded(uow, ctx, who, situation, "plan_objective", objective_id, changes)
        await uow.plans.update_item(
            who.tenant, "plan_objectives", objective_id, situation_id, stored, now
        )
        await _publish(uow, who.tenant, event)


async def add_action(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    objective_id: uuid.UUID,
    values: dict[str, Any],
    *,
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    action_id = uuid.uuid4()
    async with uows() as uow:
        earlier = await retries.claim_in(uow, who, retry, action_id)
        if earlier is not None:
            return earlier
        situation, plan = await _plan(uow, ctx, who, situation_id)
        event = plan.add_action(
            action_id, objective_id, values.get("starts_on"), values.get("ends_on"), now
        )
        given = {k: v for k, v in values.items() if v is not None}
        stored = await _recorded(uow, ctx, who, situation, "plan_action", action_id, given)
        await uow.plans.add_action(
            who.tenant, situation_id, plan.actions[action_id], stored["title_enc"], now
        )
        await _publish(uow, who.tenant, event)
    return action_id


async def change_action(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    action_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    async with uows() as uow:
        situation, plan = await _plan(uow, ctx, who, situation_id)
        event = plan.change_action(action_id, changes, now)
        stored = await _recorded(uow, ctx, who, situation, "plan_action", action_id, changes)
        await uow.plans.update_item(
            who.tenant, "plan_actions", action_id, situation_id, stored, now
        )
        await _publish(uow, who.tenant, event)


async def read(
    uows: Uows, ctx: Parcours, who: Principal, situation_id: uuid.UUID
) -> tuple[Row, list[dict[str, Any]], list[dict[str, Any]]]:
    """The situation (its plan version), its objectives and its actions (titles opened with
    the child's key), for the caller."""
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id)
        texts = await child_texts.texts_in(uow, ctx, who.tenant, situation["subject_id"])
        objectives, actions = map(texts.titled, await uow.plans.rows(who.tenant, situation_id))
    return situation, objectives, actions
