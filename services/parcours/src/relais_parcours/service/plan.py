"""Use cases of the individual plan: objectives and actions on the four axes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from relais_contracts.types import Axis
from relais_contracts.v1.parcours import ActionCounts, AxisPlan, ObjectiveCounts, PlanUpdated
from relais_parcours.adapters import plans_repo, situations_repo
from relais_parcours.context import Parcours
from relais_parcours.domain.plan import dates_ordered
from relais_parcours.domain.situation import Stage
from relais_parcours.service import access, access_log, child_texts, retries, tenancy
from relais_parcours.service.dates import not_before_opening
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime


async def _situation_in_parcours(conn: Conn, who: Principal, situation_id: uuid.UUID) -> Any:
    situation = await access.situation_for(conn, who, situation_id, lock=True)
    if situation["stage"] != Stage.IN_PARCOURS:
        raise DomainError(
            "situation_not_in_parcours",
            "Le plan se construit pour une situation prise en charge et non clôturée.",
        )
    return situation


def _plan_dates(ctx: Parcours, situation: Any, values: dict[str, Any]) -> None:
    """The plan's dates (target, start, end) are the situation's: never before it opened."""
    names = {"target_on": "La date visée", "starts_on": "Le début", "ends_on": "La fin"}
    not_before_opening(ctx, situation, {f: (values.get(f), w) for f, w in names.items()})


async def _recorded(
    conn: Conn,
    ctx: Parcours,
    who: Principal,
    situation: Any,
    record_type: str,
    item_id: uuid.UUID,
    values: dict[str, Any],
) -> dict[str, Any]:
    """Write the change's access-log line (the columns it writes, never their values) and
    seal its title under the child's key: the values as the repository stores them."""
    await access_log.change(
        conn,
        who,
        record_type,
        item_id,
        situation["id"],
        access_log.plan_groups(values),
        access_log.TEAM_FOLLOW_UP,
    )
    if "title" not in values:
        return values
    sealed = await child_texts.seal(
        conn, ctx, situation["pre_id"], situation["subject_id"], values["title"]
    )
    return {**values, "title": None, "title_enc": sealed}  # no clear copy left behind


async def emit_plan_updated(
    runtime: ServiceRuntime, conn: Conn, pre_id: str, situation: Any, now: datetime
) -> None:
    """Bump the plan version and emit its counts per axis (never its wording)."""
    plan_version = await plans_repo.bump_plan_version(conn, pre_id, situation["id"])
    counts = await plans_repo.plan_counts(conn, pre_id, situation["id"])
    objectives: dict[str, dict[str, int]] = {}
    actions: dict[str, dict[str, int]] = {}
    for row in counts:
        if row["kind"] == "objective":
            objectives.setdefault(row["axis"], {})[row["status"]] = row["n"]
        else:
            bucket = actions.setdefault(row["axis"], {"with_partner": 0})
            bucket[row["status"]] = row["n"]
            bucket["with_partner"] += row["with_partner"]
    axes = [
        AxisPlan(
            axis=axis,
            objectives=ObjectiveCounts(**objectives.get(axis.value, {})),
            actions=ActionCounts(**actions.get(axis.value, {})),
        )
        for axis in Axis
        if axis.value in objectives or axis.value in actions
    ]
    version = await situations_repo.bump_version(conn, pre_id, situation["id"])
    await runtime.emit(
        conn,
        PlanUpdated(
            situation_id=situation["id"],
            subject_id=situation["subject_id"],
            plan_version=plan_version,
            axes=axes,
            updated_at=now,
        ),
        subject=str(situation["id"]),
        tenant=pre_id,
        sequence=version,
    )


async def add_objective(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    values: dict[str, Any],
    *,
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    objective_id = uuid.uuid4()
    async with tenancy.scoped(runtime, who.pre) as conn:
        earlier = await retries.claim(conn, who, retry, objective_id)
        if earlier is not None:
            return earlier
        situation = await _situation_in_parcours(conn, who, situation_id)
        _plan_dates(ctx, situation, values)
        given = {k: v for k, v in values.items() if v is not None}
        stored = await _recorded(conn, ctx, who, situation, "plan_objective", objective_id, given)
        await plans_repo.insert_objective(conn, objective_id, situation_id, who.pre, stored, now)
        await emit_plan_updated(runtime, conn, who.pre, situation, now)
    return objective_id


async def change_objective(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    objective_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    async with tenancy.scoped(runtime, who.pre) as conn:
        situation = await _situation_in_parcours(conn, who, situation_id)
        _plan_dates(ctx, situation, changes)
        stored = await _recorded(conn, ctx, who, situation, "plan_objective", objective_id, changes)
        if not await plans_repo.update_plan_item(
            conn, who.pre, "plan_objectives", objective_id, situation_id, stored, now
        ):
            raise DomainError("objective_not_found", "Objectif introuvable.", 404)
        await emit_plan_updated(runtime, conn, who.pre, situation, now)


async def add_action(
    runtime: ServiceRuntime,
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
    async with tenancy.scoped(runtime, who.pre) as conn:
        earlier = await retries.claim(conn, who, retry, action_id)
        if earlier is not None:
            return earlier
        situation = await _situation_in_parcours(conn, who, situation_id)
        _plan_dates(ctx, situation, values)
        objective = await plans_repo.get_objective(conn, who.pre, situation_id, objective_id)
        if objective is None:
            raise DomainError("objective_not_found", "Objectif introuvable.", 404)
        given = {k: v for k, v in values.items() if v is not None}
        stored = await _recorded(conn, ctx, who, situation, "plan_action", action_id, given)
        await plans_repo.insert_action(conn, who.pre, action_id, objective, stored, now)
        await emit_plan_updated(runtime, conn, who.pre, situation, now)
    return action_id


async def change_action(
    runtime: ServiceRuntime,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    action_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    async with tenancy.scoped(runtime, who.pre) as conn:
        situation = await _situation_in_parcours(conn, who, situation_id)
        action = await plans_repo.get_action(conn, who.pre, situation_id, action_id)
        if action is None:
            raise DomainError("action_not_found", "Action introuvable.", 404)
        # A patch may move one date only: check it against the other one as stored.
        if not dates_ordered(
            changes.get("starts_on", action["starts_on"]), changes.get("ends_on", action["ends_on"])
        ):
            raise DomainError("ends_before_start", "La date de fin précède la date de début.", 422)
        _plan_dates(ctx, situation, changes)
        stored = await _recorded(conn, ctx, who, situation, "plan_action", action_id, changes)
        await plans_repo.update_plan_item(
            conn, who.pre, "plan_actions", action_id, situation_id, stored, now
        )
        await emit_plan_updated(runtime, conn, who.pre, situation, now)


async def read(
    runtime: ServiceRuntime, ctx: Parcours, who: Principal, situation_id: uuid.UUID
) -> tuple[asyncpg.Record, list[dict[str, Any]], list[dict[str, Any]]]:
    """The situation (its plan version), its objectives and its actions (titles opened with
    the child's key), for the caller."""
    async with tenancy.scoped(runtime, who.pre) as conn:
        situation = await access.situation_for(conn, who, situation_id)
        texts = await child_texts.texts_of(conn, ctx, who.pre, situation["subject_id"])
        objectives, actions = map(texts.titled, await plans_repo.plan(conn, who.pre, situation_id))
    return situation, objectives, actions
