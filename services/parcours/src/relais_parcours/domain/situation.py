"""Rules about situations: one child, one situation per PRE; review deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def review_due_on(opened_at: datetime, within_days: int, timezone: str) -> date:
    """Deadlines count in days in the PRE's time zone."""
    return (opened_at.astimezone(ZoneInfo(timezone)) + timedelta(days=within_days)).date()
