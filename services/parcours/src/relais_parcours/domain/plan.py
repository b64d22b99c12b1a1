"""The individual plan: objectives and actions on the four axes, and the counts it tells.

A :class:`Plan` is built by ``adapters/plans_repo.py`` from the rows of one situation (its
wording aside: the rules never need a title, and the events never carry one). Each change
checks the situation's stage and the dates, applies itself, and returns the
``plan.updated`` it causes, with the plan's next version and its counts per axis.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from relais_contracts.types import Axis
from relais_contracts.v1.parcours import ActionCounts, AxisPlan, ObjectiveCounts, PlanUpdated
from relais_parcours.domain.consent import Row
from relais_parcours.domain.dates import not_before
from relais_parcours.domain.situation import Stage
from relais_runtime.errors import DomainError


class ObjectiveStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    ABANDONED = "abandoned"


class ActionStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


#: Statuses of an action that is over: nothing more is handed to a partner for it.
CLOSED_ACTIONS = frozenset({ActionStatus.DONE, ActionStatus.CANCELLED})

#: The dates of an objective and of an action, and what they are, in French.
_OBJECTIVE_DATES = {"target_on": "La date visée"}
_ACTION_DATES = {"starts_on": "Le début", "ends_on": "La fin"}


def dates_ordered(starts_on: date | None, ends_on: date | None) -> bool:
    """An action cannot end before it starts (either date may be unknown)."""
    return starts_on is None or ends_on is None or starts_on <= ends_on


def _objective_not_found() -> DomainError:
    return DomainError("objective_not_found", "Objectif introuvable.", 404)


@dataclass(frozen=True)
class Objective:
    id: uuid.UUID
    axis: Axis
    status: ObjectiveStatus = ObjectiveStatus.OPEN
    target_on: date | None = None

    @classmethod
    def of(cls, row: Row) -> Objective:
        return cls(
            id=row["id"],
            axis=Axis(row["axis"]),
            status=ObjectiveStatus(row["status"]),
            target_on=row["target_on"],
        )


@dataclass(frozen=True)
class Action:
    """One step towards an objective, on its objective's axis."""

    id: uuid.UUID
    objective_id: uuid.UUID
    axis: Axis
    status: ActionStatus = ActionStatus.PLANNED
    starts_on: date | None = None
    ends_on: date | None = None
    with_partner: bool = False  # a handover for it is not declined nor cancelled

    @classmethod
    def of(cls, row: Row) -> Action:
        return cls(
            id=row["id"],
            objective_id=row["objective_id"],
            axis=Axis(row["axis"]),
            status=ActionStatus(row["status"]),
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            with_partner=bool(row["with_partner"]),
        )

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_ACTIONS


@dataclass
class Plan:
    """The plan of one situation, as far as its rules and its counts need."""

    situation_id: uuid.UUID
    subject_id: uuid.UUID
    stage: Stage
    opened_on: date  # the situation's first day, in the PRE's time zone
    version: int  # the plan's own version (``plan_version`` of its events)
    objectives: dict[uuid.UUID, Objective] = field(default_factory=dict)
    actions: dict[uuid.UUID, Action] = field(default_factory=dict)

    def _check_open(self) -> None:
        if self.stage is not Stage.IN_PARCOURS:
            raise DomainError(
                "situation_not_in_parcours",
                "Le plan se construit pour une situation prise en charge et non clôturée.",
            )

    def add_objective(
        self, objective_id: uuid.UUID, axis: Axis, target_on: date | None, now: datetime
    ) -> PlanUpdated:
        self._check_open()
        not_before(self.opened_on, {"target_on": (target_on, _OBJECTIVE_DATES["target_on"])})
        self.objectives[objective_id] = Objective(objective_id, Axis(axis), target_on=target_on)
        return self.updated(now)

    def change_objective(
        self, objective_id: uuid.UUID, changes: Mapping[str, Any], now: datetime
    ) -> PlanUpdated:
        """``changes``: the fields a patch sets (``status``, ``target_on``; others ignored)."""
        self._check_open()
        not_before(self.opened_on, _dates_in(changes, _OBJECTIVE_DATES))
        objective = self.objectives.get(objective_id)
        if objective is None:
            raise _objective_not_found()
        self.objectives[objective_id] = replace(
            objective,
            status=ObjectiveStatus(changes.get("status", objective.status)),
            target_on=changes.get("target_on", objective.target_on),
        )
        return self.updated(now)

    def add_action(
        self,
        action_id: uuid.UUID,
        objective_id: uuid.UUID,
        starts_on: date | None,
        ends_on: date | None,
        now: datetime,
    ) -> PlanUpdated:
        """A new action, planned, on its objective's axis."""
        self._check_open()
        _check_ordered(starts_on, ends_on)
        not_before(self.opened_on, _dates_in({"starts_on": starts_on, "ends_on": ends_on}))
        objective = self.objectives.get(objective_id)
        if objective is None:
            raise _objective_not_found()
        self.actions[action_id] = Action(
            action_id, objective_id, objective.axis, starts_on=starts_on, ends_on=ends_on
        )
        return self.updated(now)

    def change_action(
        self, action_id: uuid.UUID, changes: Mapping[str, Any], now: datetime
    ) -> PlanUpdated:
        """``changes``: the fields a patch sets (``status``, ``starts_on``, ``ends_on``)."""
        self._check_open()
        action = self.actions.get(action_id)
        if action is None:
            raise DomainError("action_not_found", "Action introuvable.", 404)
        # A patch may move one date only: check it against the other one as stored.
        starts_on = changes.get("starts_on", action.starts_on)
        ends_on = changes.get("ends_on", action.ends_on)
        _check_ordered(starts_on, ends_on)
        not_before(self.opened_on, _dates_in(changes))
        self.actions[action_id] = replace(
            action,
            status=ActionStatus(changes.get("status", action.status)),
            starts_on=starts_on,
            ends_on=ends_on,
        )
        return self.updated(now)

    def updated(self, now: datetime) -> PlanUpdated:
        """The next version of the plan and its counts per axis (never its wording)."""
        self.version += 1
        return PlanUpdated(
            situation_id=self.situation_id,
            subject_id=self.subject_id,
            plan_version=self.version,
            axes=self.counts(),
            updated_at=now,
        )

    def counts(self) -> list[AxisPlan]:
        """Objectives and actions counted by status, per axis that has any (in Axis order)."""
        objectives = Counter((o.axis, o.status.value) for o in self.objectives.values())
        actions = Counter((a.axis, a.status.value) for a in self.actions.values())
        with_partner = Counter(a.axis for a in self.actions.values() if a.with_partner)
        used = {axis for axis, _ in objectives} | {axis for axis, _ in actions}
        return [
            AxisPlan(
                axis=axis,
                objectives=ObjectiveCounts(
                    **{status: n for (a, status), n in objectives.items() if a is axis}
                ),
                actions=ActionCounts(
                    **{status: n for (a, status), n in actions.items() if a is axis},
                    with_partner=with_partner[axis],
                ),
            )
            for axis in Axis
            if axis in used
        ]


def _check_ordered(starts_on: date | None, ends_on: date | None) -> None:
    if not dates_ordered(starts_on, ends_on):
        raise DomainError("ends_before_start", "La date de fin précède la date de début.", 422)


def _dates_in(
    values: Mapping[str, Any], names: Mapping[str, str] = _ACTION_DATES
) -> dict[str, tuple[date | None, str]]:
    return {f: (values.get(f), what) for f, what in names.items()}
