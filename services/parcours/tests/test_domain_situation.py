"""Unit tests of a situation's transitions and of the team review (no database: milliseconds)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from relais_contracts.types import (
    Axis,
    DeclineReason,
    ExitReason,
    FollowupOutcome,
    ReviewDecision,
    SituationStage,
)
from relais_parcours.domain.dates import FieldRefused
from relais_parcours.domain.review import Meeting, check_reviewable
from relais_parcours.domain.situation import Situation, Stage, wire_stage
from relais_runtime.errors import DomainError

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
TODAY = date(2026, 12, 3)
REFERRALS = (uuid.uuid4(), uuid.uuid4())


def situation(stage: Stage = Stage.IN_PARCOURS, **row: Any) -> Situation:
    return Situation.of(
        {
            "id": uuid.uuid4(),
            "pre_id": "pre-76540",
            "subject_id": uuid.uuid4(),
            "stage": stage.value,
            "opened_at": datetime(2026, 3, 1, 23, 30, tzinfo=UTC),  # 2 March in Paris
            "referral_ids": list(REFERRALS),
            "axes": ["health", "schooling"],
            "started_on": date(2026, 3, 10),
            "closed_at": None,
            **row,
        }
    )


def close(s: Situation, max_months: int = 18) -> Any:
    return s.close(
        exit_reason=ExitReason.OBJECTIVES_MET,
        final_review_held=True,
        now=NOW,
        today=TODAY,
        followup_after_months=6,
        max_months=max_months,
    )


def test_closing_a_parcours_returns_the_event_with_the_follow_up_six_months_later() -> None:
    s = situation()

    closure = close(s)

    assert closure.followup_due_on == date(2027, 6, 3)
    assert closure.warning is None
    event = closure.event
    assert (event.situation_id, event.subject_id) == (s.id, s.subject_id)
    assert event.referral_ids == list(REFERRALS)
    assert event.axes == [Axis.HEALTH, Axis.SCHOOLING]
    assert (event.started_on, event.closed_at) == (date(2026, 3, 10), NOW)
    assert event.followup_due_on == closure.followup_due_on


def test_a_parcours_past_its_maximum_duration_closes_with_a_warning_not_a_refusal() -> None:
    closure = close(situation(), max_months=6)
    assert closure.warning == "Parcours clôturé au-delà de la durée maximale de 6 mois."


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.IN_PARCOURS])
def test_only_a_parcours_in_progress_can_be_closed(stage: Stage) -> None:
    with pytest.raises(DomainError) as refused:
        close(situation(stage))
    assert refused.value.code == "situation_not_in_parcours"


def test_the_follow_up_of_a_closed_parcours_is_recorded_from_the_closure_day() -> None:
    # Closed at 23:30 UTC on 1 June: 2 June in the PRE's time zone.
    s = situation(Stage.CLOSED, closed_at=datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    followup_id = uuid.uuid4()

    with pytest.raises(FieldRefused) as refused:
        s.record_followup(
            followup_id,
            outcome=FollowupOutcome.STABLE,
            held_on=date(2026, 6, 1),
            timezone="Europe/Paris",
            now=NOW,
        )
    assert (refused.value.field, refused.value.code) == ("held_on", "followup_before_closure")
    assert "02/06/2026" in refused.value.message

    event = s.record_followup(
        followup_id,
        outcome=FollowupOutcome.STABLE,
        held_on=date(2026, 6, 2),
        timezone="Europe/Paris",
        now=NOW,
    )
    assert (event.followup_id, event.situation_id, event.held_on) == (
        followup_id,
        s.id,
        date(2026, 6, 2),
    )


def test_a_follow_up_before_the_parcours_is_closed_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        situation().record_followup(
            uuid.uuid4(),
            outcome=FollowupOutcome.STABLE,
            held_on=TODAY,
            timezone="Europe/Paris",
            now=NOW,
        )
    assert refused.value.code == "situation_not_closed"


def test_a_referral_joining_a_situation_tells_one_of_the_two_stages_the_wire_knows() -> None:
    assert wire_stage(Stage.IN_PARCOURS) is SituationStage.IN_PARCOURS
    assert wire_stage(Stage.AWAITING_REVIEW) is SituationStage.AWAITING_REVIEW
    assert wire_stage(Stage.WITHDRAWN) is SituationStage.AWAITING_REVIEW  # reopened


MEETING = Meeting(uuid.uuid4(), TODAY, ({"name": "Claire Morel", "role": "coordination"},))


def decide(
    meeting: Meeting = MEETING,
    s: Situation | None = None,
    decision: ReviewDecision = ReviewDecision.TAKE_UP,
    today: date = TODAY,
) -> Any:
    return meeting.decide(
        s or situation(Stage.AWAITING_REVIEW),
        uuid.uuid4(),
        decision=decision,
        decline_reason=DeclineReason.OTHER if decision is ReviewDecision.DECLINE else None,
        redirected_to=None,
        redirect_category=None,
        axes=[Axis.SCHOOLING, Axis.HEALTH, Axis.SCHOOLING],
        now=NOW,
        today=today,
    )


def test_a_take_up_keeps_each_axis_chosen_once_and_sorted() -> None:
    event = decide()
    assert event.axes == sorted({Axis.HEALTH, Axis.SCHOOLING})
    assert event.referral_ids == list(REFERRALS)


def test_a_decline_keeps_no_axis() -> None:
    assert decide(decision=ReviewDecision.DECLINE).axes == []


def test_a_decision_is_recorded_from_the_meetings_day_with_its_attendees_named() -> None:
    with pytest.raises(DomainError) as early:
        decide(today=date(2026, 12, 2))
    with pytest.raises(DomainError) as nobody:
        decide(replace(MEETING, attendees=()))
    assert early.value.code == "review_not_held"
    assert "03/12/2026" in early.value.message
    assert (nobody.value.code, nobody.value.status) == ("attendees_required", 422)


def test_a_situation_is_reviewed_once() -> None:
    with pytest.raises(DomainError) as refused:
        decide(s=situation(Stage.IN_PARCOURS))
    assert refused.value.code == "situation_already_reviewed"


def test_a_meeting_cannot_review_a_situation_opened_after_it() -> None:
    s = situation(Stage.AWAITING_REVIEW)
    check_reviewable(s, date(2026, 3, 2), date(2026, 3, 2), "meets_on")  # the same day is fine
    with pytest.raises(FieldRefused) as refused:
        check_reviewable(s, date(2026, 3, 2), date(2026, 3, 1), "add_situation_ids")
    assert (refused.value.field, refused.value.code) == (
        "add_situation_ids",
        "date_before_situation",
    )
    with pytest.raises(DomainError) as reviewed:
        check_reviewable(situation(Stage.DECLINED), date(2026, 3, 2), TODAY, "meets_on")
    assert reviewed.value.code == "situation_already_reviewed"
