"""Dates the PRE records about a situation: never before the situation existed.

A body model cannot know when the situation was opened (nor the PRE's time zone), so the
use case checks once it has read it, and raises :class:`FieldRefused`; the HTTP layer
answers it as a body validator would: 422, the field named, a French message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from relais_parcours.context import Parcours


class FieldRefused(Exception):
    """A field's value the rules refuse once compared with what is stored."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.message = message


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
    first = opened_on(ctx, situation)
    for field, (day, what) in dates.items():
        if day is not None and day < first:
            raise FieldRefused(
                field,
                "date_before_situation",
                f"{what} ({day:%d/%m/%Y}) ne peut pas précéder l'ouverture de la situation, "
                f"le {first:%d/%m/%Y}.",
            )
