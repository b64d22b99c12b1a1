"""What the indicators are made of: the period, the published figures and cells, the views
over the fact documents, and publishing a count, a share or a median with small-cell
protection (``suppression``) applied. The indicators themselves are in ``indicators``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from relais_reporting.domain.facts import HANDOVER, REFERRAL, SITUATION, Doc, Projections, utc
from relais_reporting.domain.periods import PARIS, school_year_bounds
from relais_reporting.domain.suppression import suppress_table

# --- the period ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A school year, cut at the end of ``as_of`` when given. Bounds: [start, end)."""

    school_year: str
    as_of: date | None = None

    @property
    def first_day(self) -> date:
        return school_year_bounds(self.school_year)[0]

    @property
    def end_day(self) -> date:
        """The first day after the period."""
        last = school_year_bounds(self.school_year)[1]
        if self.as_of is not None and self.as_of < last:
            last = self.as_of
        return last + timedelta(days=1)

    @property
    def start(self) -> str:
        return paris_midnight(self.first_day)

    @property
    def end(self) -> str:
        return paris_midnight(self.end_day)

    def holds(self, moment: str | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def holds_day(self, day: str | None) -> bool:
        return day is not None and self.first_day.isoformat() <= day < self.end_day.isoformat()


def paris_midnight(day: date) -> str:
    return utc(datetime.combine(day, time(0), tzinfo=PARIS))


# --- published figures ----------------------------------------------------------------------


@dataclass
class Cell:
    key: str
    label: str
    value: float | None
    suppressed: bool = False
    count: int | None = None  # durations: how many measures the median is taken over


@dataclass
class Figure:
    key: str
    label: str
    definition: str
    unit: str
    value: float | None
    suppressed: bool = False
    count: int | None = None
    cells: list[Cell] = field(default_factory=list)
    note: str | None = None
    cell_unit: str | None = None  # what the cells count, when not the figure's unit


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    definition: str
    unit: str
    compute: Callable[[Facts, Period, int], Figure]
    note: str | None = None
    cell_unit: str | None = None

    def figure(self, value: float | None, **kw: Any) -> Figure:
        return Figure(
            self.key,
            self.label,
            self.definition,
            self.unit,
            value,
            note=self.note,
            cell_unit=self.cell_unit,
            **kw,
        )


# --- views over the fact documents ----------------------------------------------------------


class Facts:
    """The fact documents of the PRE in scope, with the joins the indicators need."""

    def __init__(self, docs: Projections) -> None:
        self.referrals: dict[str, Doc] = {}
        self.situations: list[Doc] = []
        self.handovers: list[Doc] = []
        for (kind, key), doc in docs.items():
            if kind == REFERRAL:
                self.referrals[key] = doc
            elif kind == SITUATION:
                self.situations.append(doc)
            elif kind == HANDOVER:
                self.handovers.append(doc)

    def first_referral(self, situation: Doc) -> Doc:
        """The situation's earliest referral: what is known of the child (age, sex, QPV)."""
        found = [
            self.referrals[r] for r in situation.get("referral_ids", ()) if r in self.referrals
        ]
        found = [r for r in found if r.get("submitted_at")]
        return min(found, key=lambda r: r["submitted_at"]) if found else {}

    def submitted_in(self, period: Period) -> list[Doc]:
        return [r for r in self.referrals.values() if period.holds(r.get("submitted_at"))]

    def followed_in(self, period: Period) -> list[Doc]:
        """Situations in parcours at some time of the period, one per child."""
        by_child: dict[tuple[str, str], Doc] = {}
        for s in self.situations:
            start = take_up_at(s)
            if start is None or start >= period.end:
                continue
            if s.get("closed_at") is not None and s["closed_at"] < period.start:
                continue
            by_child.setdefault((s["pre_id"], s.get("subject_id", "")), s)
        return list(by_child.values())


def take_up_at(situation: Doc) -> str | None:
    """When the parcours started: the family's first consent after a take-up decision."""
    if situation.get("decision") != "take_up":
        return None
    consent = situation.get("first_consent_at")
    if consent is not None:
        return str(consent)
    started = situation.get("started_on")
    return paris_midnight(date.fromisoformat(started)) if started else None


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    return "2-5" if age <= 5 else "6-10" if age <= 10 else "11-16"


def code_in(value: Any, names: Mapping[str, str], fallback: str) -> str:
    """``value`` if it has a label, else ``fallback``. A code added to the contract later
    must still land in a published cell: left out, the total minus the cells shown would
    give its (small) count back."""
    return str(value) if value in names else fallback


def days_between(start: str, end: Any) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400


# --- publishing with suppression --------------------------------------------------------------

#: For a region: per indicator key, the cells to hide because of its PRE (see compute_all).
FORCED: ContextVar[Mapping[str, set[str]]] = ContextVar("forced", default=MappingProxyType({}))


def forced(key: str) -> set[str]:
    return FORCED.get().get(key, set())


def hide_count(key: str, n: int, threshold: int) -> bool:
    return 0 < n < threshold or "_total" in forced(key)


def one_way(
    ind: Indicator,
    counts: Mapping[str, int],
    names: Mapping[str, str],
    threshold: int,
    *,
    total: int | None = None,
) -> Figure:
    """A count by category. ``total`` given: the cells sum to it (additive, margins protected);
    omitted: categories overlap (a referral has several reasons), only primary suppression."""
    keys = [k for k in names if k in counts]
    cells = {k: counts[k] for k in keys}
    if total is not None:
        cells["_total"] = total
        hidden = suppress_table(cells, [("_total", keys)], threshold, forced(ind.key))
    else:
        hidden = suppress_table(cells, [], threshold, forced(ind.key))
    figure = ind.figure(
        None if "_total" in hidden else (total if total is not None else None),
        suppressed="_total" in hidden,
    )
    figure.cells = [Cell(k, names[k], None if k in hidden else cells[k], k in hidden) for k in keys]
    return figure


def durations(
    ind: Indicator,
    samples: Sequence[tuple[str, float]],
    names: Mapping[str, str] | None,
    threshold: int,
) -> Figure:
    """Median delay in days over all measures, and by category when ``names`` is given."""
    n = len(samples)
    if names is None:
        hidden_all = hide_count(ind.key, n, threshold)
        value = None if hidden_all or n == 0 else round(statistics.median(v for _, v in samples), 1)
        return ind.figure(value, suppressed=hidden_all, count=None if hidden_all else n)
    by: dict[str, list[float]] = {}
    for category, v in samples:
        by.setdefault(category, []).append(v)
    counts = {k: len(v) for k, v in by.items()}
    keys = [k for k in names if k in counts]
    cells = {**counts, "_total": n}
    hidden = suppress_table(cells, [("_total", keys)], threshold, forced(ind.key))
    value = None
    if "_total" not in hidden and n:
        value = round(statistics.median(v for _, v in samples), 1)
    figure = ind.figure(
        value, suppressed="_total" in hidden, count=None if "_total" in hidden else n
    )
    for k in keys:
        hide = k in hidden
        figure.cells.append(
            Cell(
                k,
                names[k],
                None if hide else round(statistics.median(by[k]), 1),
                hide,
                None if hide else counts[k],
            )
        )
    return figure


def share(
    ind: Indicator, parts: Mapping[str, int], names: Mapping[str, str], part: str, threshold: int
) -> Figure:
    """A percentage of ``part`` among all, with the count table behind it protected."""
    total = sum(parts.values())
    keys = list(names)
    cells = {**{k: parts.get(k, 0) for k in keys}, "_total": total}
    hidden = suppress_table(cells, [("_total", keys)], threshold, forced(ind.key))
    hide = part in hidden or "_total" in hidden
    value = None if hide or total == 0 else round(100 * cells[part] / total, 1)
    figure = ind.figure(value, suppressed=hide, count=None if "_total" in hidden else total)
    figure.cells = [Cell(k, names[k], None if k in hidden else cells[k], k in hidden) for k in keys]
    return figure
