"""Rules about situations: one open situation per child and PRE; review deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


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
