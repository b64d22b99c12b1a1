"""The demo data (``relais-reporting demo``): realistic, and the same ids on every load."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from relais_reporting import demo
from relais_reporting.domain import facts, indicators
from relais_reporting.service.project import logged

PRE = "pre-76540"
NOW = datetime(2026, 12, 1, 19, tzinfo=UTC)


def _closures_and_followups(events: list) -> tuple[dict[str, date], dict[str, date]]:
    due = {
        str(e.data.situation_id): e.data.followup_due_on
        for e in events
        if e.type == "fr.relais.parcours.closed.v1"
    }
    held = {
        str(e.data.situation_id): e.data.held_on
        for e in events
        if e.type == "fr.relais.followup.recorded.v1"
    }
    return due, held


def test_about_two_in_three_exits_past_their_six_month_day_have_a_followup() -> None:
    events = demo.school_year(PRE, 2024, 600, seed=1, until=NOW)
    due, held = _closures_and_followups(events)
    past = [s for s, day in due.items() if day < NOW.date()]
    assert len(past) > 100
    assert set(held) <= set(past)  # never for an exit whose six months are still to come
    assert 0.60 <= len(held) / len(past) <= 0.75
    for situation, day in held.items():
        assert due[situation] <= day <= NOW.date()
    assert all(e.time <= NOW for e in events)


def test_the_demo_year_shows_six_month_followups_done_on_the_dashboard_figures() -> None:
    """The demo as ``relais-reporting demo`` loads it: the share of the current school
    year is shown, neither 0 % nor hidden."""
    events = demo.school_year(PRE, 2025, 350, seed=1, until=NOW) + demo.school_year(
        PRE, 2026, 116, seed=2, until=NOW
    )
    docs = facts.fold_all(logged(e) for e in events)
    figures = {
        f.key: f
        for f in indicators.compute_all(docs, indicators.Period("2026-2027", NOW.date()), 5)
    }
    followups = figures["followups_done"]
    assert not followups.suppressed
    assert followups.value is not None
    assert 40 <= followups.value <= 80


def test_loading_the_demo_again_gives_the_same_ids() -> None:
    first = demo.school_year(PRE, 2025, 80, seed=3)
    again = demo.school_year(PRE, 2025, 80, seed=3)
    assert [e.id for e in first] == [e.id for e in again]
    assert [e.model_dump() for e in first] == [e.model_dump() for e in again]


def test_followups_leave_the_ids_of_the_other_demo_events_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database loaded with the demo before it had follow-ups gets only the follow-ups
    from a new load, not a second copy of every later event."""
    with_followups = demo.school_year(PRE, 2025, 80, seed=3)
    monkeypatch.setattr(demo, "FOLLOWUP_HELD", 0.0)
    without = demo.school_year(PRE, 2025, 80, seed=3)
    assert not [e for e in without if e.type == "fr.relais.followup.recorded.v1"]
    others = [e for e in with_followups if e.type != "fr.relais.followup.recorded.v1"]
    assert [(e.id, e.sequence) for e in others] == [(e.id, e.sequence) for e in without]
