"""A child's file at the PRE: its stages, what a new referral does to it, its deadlines,
and the :class:`Situation` whose transitions return the events they cause."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from relais_contracts.types import Axis, ExitReason, FollowupOutcome, SituationStage
from relais_contracts.v1.parcours import FollowupRecorded, ParcoursClosed
from relais_parcours.domain.consent import Row
from relais_parcours.domain.dates import FieldRefused, not_after
from relais_runtime.errors import DomainError


class Stage(StrEnum):
    """Where a situation stands. Stored as its value; a StrEnum compares equal to it."""

    AWAITING_REVIEW = "awaiting_review"  # opened, before the team review decides
    IN_PARCOURS = "in_parcours"  # taken up: référent, consent, plan, handovers
    REDIRECTED = "redirected"  # the review sent the family elsewhere
    DECLINED = "declined"  # the review declined
    CLOSED = "closed"  # the parcours ended (exit reason, follow-up due)
    WITHDRAWN = "withdrawn"  # every referral was withdrawn before the review
    ERASED = "erased"  # crypto-erased: nothing about the child is readable


class OnReferral(StrEnum):
    """What a new referral does, given the stage of the child's latest situation."""

    OPEN = "open"  # a new situation: a first referral, or the last file is finished
    JOIN = "join"  # the situation is still under review or in parcours
    REOPEN = "reopen"  # every earlier referral was withdrawn before the review
    DROP = "drop"  # the child was erased while this referral was on its way


#: Stages of a file the PRE has finished with: a new referral starts a new review.
FINISHED = frozenset({Stage.DECLINED, Stage.REDIRECTED, Stage.CLOSED})

#: Stages in which no letter opens a family space (nothing left to show, or nothing kept).
NO_FAMILY_SPACE = frozenset({Stage.ERASED, Stage.DECLINED, Stage.WITHDRAWN})


def on_new_referral(latest_stage: str | None) -> OnReferral:
    """A new referral never joins a finished file, where nobody would review it (ADR 0006)."""
    if latest_stage is None or latest_stage in FINISHED:
        return OnReferral.OPEN
    if latest_stage == Stage.ERASED:
        return OnReferral.DROP
    if latest_stage == Stage.WITHDRAWN:
        return OnReferral.REOPEN
    return OnReferral.JOIN


def wire_stage(stage: str) -> SituationStage:
    """The wire knows two stages of a situation that a referral joins or reopens: in
    parcours, or awaiting its review (a finished one never gets a referral joined)."""
    if stage == Stage.IN_PARCOURS:
        return SituationStage.IN_PARCOURS
    return SituationStage.AWAITING_REVIEW


def review_due_on(opened_at: datetime, within_days: int, timezone: str) -> date:
    """Deadlines count in days in the PRE's time zone."""
    return (opened_at.astimezone(ZoneInfo(timezone)) + timedelta(days=within_days)).date()


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def duration_warning(started_on: date, today: date, max_months: int) -> str | None:
    """A French warning when a parcours runs past the configured maximum duration."""
    if today > add_months(started_on, max_months):
        return (
            f"Ce parcours dépasse la durée maximale de {max_months} mois : "
            "préparez la sortie avec la famille et les partenaires."
        )
    return None


def closure_warning(started_on: date, closed_on: date, max_months: int) -> str | None:
    """The same check at closure, worded for a parcours that has just ended."""
    if duration_warning(started_on, closed_on, max_months) is None:
        return None
    return f"Parcours clôturé au-delà de la durée maximale de {max_months} mois."


def followup_held(held_on: date, today: date) -> None:
    """The six-month follow-up is recorded once it has taken place: never after ``today``,
    the PRE's day (its day before the closure is :meth:`Situation.record_followup`'s rule)."""
    not_after(today, {"held_on": (held_on, "La date du suivi")})


@dataclass(frozen=True)
class Closure:
    """What closing a parcours decides: the event, the follow-up's day, any warning."""

    event: ParcoursClosed
    followup_due_on: date
    warning: str | None


@dataclass(frozen=True)
class Situation:
    """A child's file at the PRE, as far as its transitions need (a row of
    ``situations_repo.get_situation``: the situation with its referrals' ids)."""

    id: uuid.UUID
    tenant: str
    subject_id: uuid.UUID
    stage: Stage
    opened_at: datetime
    referral_ids: tuple[uuid.UUID, ...] = ()
    axes: tuple[str, ...] = ()
    started_on: date | None = None
    closed_at: datetime | None = None

    @classmethod
    def of(cls, row: Row) -> Situation:
        return cls(
            id=row["id"],
            tenant=row["pre_id"],
            subject_id=row["subject_id"],
            stage=Stage(row["stage"]),
            opened_at=row["opened_at"],
            referral_ids=tuple(row["referral_ids"] or ()),
            axes=tuple(row["axes"] or ()),
            started_on=row["started_on"],
            closed_at=row["closed_at"],
        )

    def close(
        self,
        *,
        exit_reason: ExitReason,
        final_review_held: bool,
        now: datetime,
        today: date,
        followup_after_months: int,
        max_months: int,
    ) -> Closure:
        """End the parcours: the follow-up falls due ``followup_after_months`` later, and a
        parcours past ``max_months`` closes with a warning (never a refusal)."""
        if self.stage is not Stage.IN_PARCOURS:
            raise DomainError(
                "situation_not_in_parcours", "Seul un parcours en cours peut être clôturé."
            )
        assert self.started_on is not None  # set when the review took the situation up
        followup_due_on = add_months(today, followup_after_months)
        event = ParcoursClosed(
            situation_id=self.id,
            subject_id=self.subject_id,
            referral_ids=list(self.referral_ids),
            exit_reason=exit_reason,
            axes=[Axis(a) for a in self.axes],
            started_on=self.started_on,
            closed_at=now,
            final_review_held=final_review_held,
            followup_due_on=followup_due_on,
        )
        return Closure(event, followup_due_on, closure_warning(self.started_on, today, max_months))

    def record_followup(
        self,
        followup_id: uuid.UUID,
        *,
        outcome: FollowupOutcome,
        held_on: date,
        timezone: str,
        now: datetime,
    ) -> FollowupRecorded:
        """The six-month follow-up of a closed parcours, never dated before the day of the
        closure (in the PRE's ``timezone``)."""
        if self.stage is not Stage.CLOSED:
            raise DomainError(
                "situation_not_closed", "Le suivi à six mois suit la clôture du parcours."
            )
        assert self.closed_at is not None  # set with the stage
        closed_on = self.closed_at.astimezone(ZoneInfo(timezone)).date()
        if held_on < closed_on:
            raise FieldRefused(
                "held_on",
                "followup_before_closure",
                f"La date du suivi ({held_on:%d/%m/%Y}) ne peut pas précéder la clôture du "
                f"parcours, le {closed_on:%d/%m/%Y}.",
            )
        return FollowupRecorded(
            followup_id=followup_id,
            situation_id=self.id,
            subject_id=self.subject_id,
            outcome=outcome,
            held_on=held_on,
            recorded_at=now,
        )
