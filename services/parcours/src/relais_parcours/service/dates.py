"""The PRE's day, computed in one place, and the dates it records about a situation
(the rule, never before the situation opened, is ``domain/dates.py``'s)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from relais_parcours.context import Parcours
from relais_parcours.domain.dates import FieldRefused as FieldRefused  # re-exported
from relais_parcours.domain.dates import not_before


def pre_day(ctx: Parcours, moment: datetime | None = None) -> date:
    """The PRE's day (in its time zone) at ``moment``, now by default: « today » for every
    rule of parcours (consent in force, meeting held, deadlines due) is computed here."""
    return (moment or datetime.now(UTC)).astimezone(ZoneInfo(ctx.settings.timezone)).date()


def opened_on(ctx: Parcours, situation: Any) -> date:
    """The day the situation (a row with ``opened_at``) was opened, in the PRE's time zone."""
    return pre_day(ctx, situation["opened_at"])


def not_before_opening(
    ctx: Parcours, situation: Any, dates: Mapping[str, tuple[date | None, str]]
) -> None:
    """Refuse any of ``dates`` (field → its day and, in French, what it is: « La date du
    consentement ») that precedes the day the situation was opened."""
    not_before(opened_on(ctx, situation), dates)
