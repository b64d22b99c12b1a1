"""Unit tests of the plan's rules (no database, no broker: milliseconds)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from relais_contracts.types import Axis
from relais_contracts.v1.parcours import ActionCounts, AxisPlan, ObjectiveCounts
from relais_parcours.domain.dates import FieldRefused
from relais_parcours.domain.plan import Action, ActionStatus, Objective, ObjectiveStatus, Plan
from relais_parcours.domain.situation import Stage
from relais_runtime.errors import DomainError

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
OPENED_ON = date(2026, 11, 2)


def plan(stage: Stage = Stage.IN_PARCOURS, version: int = 4) -> Plan:
    return Plan(
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        stage=stage,
        opened_on=OPENED_ON,
        version=version,
    )


def with_objective(p: Plan, axis: Axis = Axis.HEALTH) -> uuid.UUID:
    objective_id = uuid.uuid4()
    p.objectives[objective_id] = Objective(objective_id, axis)
    return objective_id


def with_action(p: Plan, **fields: object) -> uuid.UUID:
    objective_id = with_objective(p)
    action_id = uuid.uuid4()
    p.actions[action_id] = Action(action_id, objective_id, Axis.HEALTH, **fields)  # type: ignore[arg-type]
    return action_id


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.IN_PARCOURS])
def test_the_plan_is_built_only_for_a_situation_in_parcours(stage: Stage) -> None:
    p = plan(stage)
    with pytest.raises(DomainError) as refused:
        p.add_objective(uuid.uuid4(), Axis.HEALTH, None, NOW)
    assert refused.value.code == "situation_not_in_parcours"
    assert p.objectives == {}
    assert p.version == 4


def test_an_objective_added_is_open_and_the_plan_tells_its_next_version_in_counts() -> None:
    p = plan()
    objective_id = uuid.uuid4()

    event = p.add_objective(objective_id, Axis.SCHOOLING, date(2027, 6, 30), NOW)

    assert p.objectives[objective_id].status is ObjectiveStatus.OPEN
    assert (event.situation_id, event.subject_id) == (p.situation_id, p.subject_id)
    assert event.plan_version == p.version == 5
    assert event.updated_at == NOW
    assert event.axes == [AxisPlan(axis=Axis.SCHOOLING, objectives=ObjectiveCounts(open=1))]


def test_a_date_of_the_plan_before_the_situation_opened_is_refused_on_its_field() -> None:
    p = plan()
    with pytest.raises(FieldRefused) as refused:
        p.add_objective(uuid.uuid4(), Axis.HEALTH, date(2026, 11, 1), NOW)
    assert (refused.value.field, refused.value.code) == ("target_on", "date_before_situation")
    assert "02/11/2026" in refused.value.message
    p.add_objective(uuid.uuid4(), Axis.HEALTH, OPENED_ON, NOW)  # the opening day itself is fine


def test_an_action_takes_its_objectives_axis_and_starts_planned() -> None:
    p = plan()
    objective_id = with_objective(p, Axis.PARENTING)
    action_id = uuid.uuid4()

    event = p.add_action(action_id, objective_id, date(2026, 12, 7), None, NOW)

    assert p.actions[action_id] == Action(
        action_id, objective_id, Axis.PARENTING, ActionStatus.PLANNED, date(2026, 12, 7), None
    )
    assert event.axes == [
        AxisPlan(
            axis=Axis.PARENTING,
            objectives=ObjectiveCounts(open=1),
            actions=ActionCounts(planned=1),
        )
    ]


def test_an_action_for_an_objective_of_another_plan_is_not_found() -> None:
    p = plan()
    with pytest.raises(DomainError) as refused:
        p.add_action(uuid.uuid4(), uuid.uuid4(), None, None, NOW)
    assert (refused.value.code, refused.value.status) == ("objective_not_found", 404)
    assert p.actions == {}


def test_an_action_cannot_end_before_it_starts() -> None:
    p = plan()
    objective_id = with_objective(p)
    with pytest.raises(DomainError) as refused:
        p.add_action(uuid.uuid4(), objective_id, date(2026, 12, 9), date(2026, 12, 8), NOW)
    assert (refused.value.code, refused.value.status) == ("ends_before_start", 422)


def test_a_patch_moving_one_date_is_checked_against_the_other_as_stored() -> None:
    p = plan()
    action_id = with_action(p, starts_on=date(2026, 12, 10))
    with pytest.raises(DomainError) as refused:
        p.change_action(action_id, {"ends_on": date(2026, 12, 9)}, NOW)
    assert refused.value.code == "ends_before_start"
    p.change_action(action_id, {"ends_on": date(2026, 12, 10)}, NOW)
    assert p.actions[action_id].ends_on == date(2026, 12, 10)


def test_closing_an_action_counts_it_done_on_its_axis() -> None:
    p = plan()
    action_id = with_action(p, status=ActionStatus.IN_PROGRESS, with_partner=True)

    event = p.change_action(action_id, {"status": "done", "title": "ignored"}, NOW)

    assert p.actions[action_id].is_closed
    assert event.axes[0].actions == ActionCounts(done=1, with_partner=1)


def test_changing_an_unknown_action_or_objective_is_not_found() -> None:
    p = plan()
    with pytest.raises(DomainError) as action:
        p.change_action(uuid.uuid4(), {"status": "done"}, NOW)
    with pytest.raises(DomainError) as objective:
        p.change_objective(uuid.uuid4(), {"status": "met"}, NOW)
    assert (action.value.code, objective.value.code) == ("action_not_found", "objective_not_found")


def test_an_objective_met_is_counted_met() -> None:
    p = plan()
    objective_id = with_objective(p)
    event = p.change_objective(objective_id, {"status": "met"}, NOW)
    assert event.axes == [AxisPlan(axis=Axis.HEALTH, objectives=ObjectiveCounts(met=1))]


def test_the_counts_list_the_axes_that_have_anything_in_axis_order() -> None:
    p = plan()
    with_action(p, with_partner=True)
    with_action(p, status=ActionStatus.CANCELLED)
    with_objective(p, Axis.SCHOOLING)
    axes = p.counts()
    assert [a.axis for a in axes] == [a for a in Axis if a in (Axis.HEALTH, Axis.SCHOOLING)]
    health = next(a for a in axes if a.axis is Axis.HEALTH)
    assert health.objectives == ObjectiveCounts(open=2)
    assert health.actions == ActionCounts(planned=1, cancelled=1, with_partner=1)
