"""Rules about situations: one child, one situation per PRE; review deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


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
