"""Unit tests of the parcours rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from relais_parcours.domain.situation import review_due_on


def test_review_deadline_counts_days_in_the_pre_time_zone() -> None:
    # 23:30 UTC on 31 October is already 1 November in Paris.
    opened = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert review_due_on(opened, 21, "Europe/Paris") == date(2026, 11, 22)
    assert review_due_on(opened, 21, "UTC") == date(2026, 11, 21)
