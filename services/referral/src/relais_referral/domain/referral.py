"""Rules about the child referred: age bounds and what counts as personal data."""

from __future__ import annotations

from datetime import date

MIN_AGE = 2
MAX_AGE = 16


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day``."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
