"""Use case: the indicator set of a scope (one PRE or a region) for a period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from relais_reporting.adapters import store
from relais_reporting.domain import facts, indicators
from relais_reporting.domain.periods import PARIS
from relais_runtime.db import Conn


@dataclass
class IndicatorReport:
    tenants: list[str]
    school_year: str
    as_of: date | None
    known_on: date
    threshold: int
    figures: list[indicators.Figure]


def _end_of(day: date) -> datetime | None:
    """The end of ``day`` in Paris; None (no cut) for 9999-12-31, whose end no datetime holds."""
    if day == date.max:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


async def build_report(
    conn: Conn,
    tenants: Sequence[str],
    school_year: str,
    *,
    threshold: int,
    as_of: date | None = None,
    known_on: date | None = None,
    today: date | None = None,
) -> IndicatorReport:
    """Figures as the state was at the end of ``as_of`` (event dates), as known at the end of
    ``known_on`` (arrival in the log). With neither, the live projections are read; with
    either, the PRE's log is folded again, so a figure asked with ``known_on`` never changes.
    """
    today = today or datetime.now(PARIS).date()
    # What was known on a day is told as of that day, not of the day it is asked: else a
    # wait still running or a follow-up due would move with the date of the request.
    as_of = as_of or known_on
    # Without either the figures run to today: a follow-up due next spring is not "missed".
    period = indicators.Period(school_year, as_of or today)
    if as_of is None and known_on is None:
        docs = await store.load_facts(conn, tenants)
    else:
        occurred_before = _end_of(as_of) if as_of else None  # None: every event counts
        docs = {}
        async for batch in store.stream_log(
            conn, tenants=tenants, known_before=_end_of(known_on) if known_on else None
        ):
            if occurred_before is not None:
                batch = [e for e in batch if e.occurred_at < occurred_before]
            facts.fold_all(batch, into=docs)
    return IndicatorReport(
        tenants=sorted(tenants),
        school_year=school_year,
        as_of=as_of,
        known_on=known_on or today,
        threshold=threshold,
        figures=indicators.compute_all(docs, period, threshold, tenants),
    )
