"""School years run 1 September to 31 August."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_SCHOOL_YEAR = re.compile(r"^([0-9]{4})-([0-9]{4})$")  # ASCII digits only: "٢٠٢٦" is no label


def school_year_of(moment: datetime, tz: ZoneInfo = PARIS) -> str:
    day = moment.astimezone(tz).date()
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def school_year_bounds(label: str) -> tuple[date, date]:
    """First and last day of a school year label like ``2026-2027``; ValueError if malformed."""
    match = _SCHOOL_YEAR.match(label)
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise ValueError(f"not a school year: {label!r}")
    start = int(match.group(1))
    return date(start, 9, 1), date(start + 1, 8, 31)
