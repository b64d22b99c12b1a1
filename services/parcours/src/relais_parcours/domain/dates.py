"""Dates the PRE records about a situation: never before the situation existed, never
after the PRE's today for what has already happened.

A body model cannot know when the situation was opened, nor the PRE's day (its time zone
is configuration), so the rules check once the use case has them and raise
:class:`FieldRefused`; the HTTP layer answers it as a body validator would: 422, the field
named, a French message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date


class FieldRefused(Exception):
    """A field's value the rules refuse once compared with what is stored."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.message = message


def not_before(first: date, dates: Mapping[str, tuple[date | None, str]]) -> None:
    """Refuse any of ``dates`` (field → its day and, in French, what it is: « La date du
    consentement ») that precedes ``first``, the day the situation was opened."""
    for field, (day, what) in dates.items():
        if day is not None and day < first:
            raise FieldRefused(
                field,
                "date_before_situation",
                f"{what} ({day:%d/%m/%Y}) ne peut pas précéder l'ouverture de la situation, "
                f"le {first:%d/%m/%Y}.",
            )


def not_after(today: date, dates: Mapping[str, tuple[date | None, str]]) -> None:
    """Refuse any of ``dates`` (field → its day and, in French, what it is: « La date du
    suivi ») that falls after ``today``, the PRE's day: what happened cannot be dated later."""
    for field, (day, what) in dates.items():
        if day is not None and day > today:
            raise FieldRefused(field, "date_in_future", f"{what} ne peut pas être dans le futur.")
