"""Every indicator, defined once: key, French label, definition, and how it is computed.

Figures are computed from the fact documents (``facts``) of one PRE or of a region, for a
period (a school year, possibly cut at an "as of" day), then published through small-cell
protection (``suppression``): no figure below the threshold, nor one that could be
recomputed from totals and margins, ever leaves this module unsuppressed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from relais_reporting.domain import labels
from relais_reporting.domain.facts import HANDOVER, REFERRAL, SITUATION, Doc, Projections, utc
from relais_reporting.domain.periods import PARIS, school_year_bounds
from relais_reporting.domain.suppression import Constraint, linked_to_parts, suppress_table

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
        return _paris_midnight(self.first_day)

    @property
    def end(self) -> str:
        return _paris_midnight(self.end_day)

    def holds(self, moment: str | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def holds_day(self, day: str | None) -> bool:
        return day is not None and self.first_day.isoformat() <= day < self.end_day.isoformat()


def _paris_midnight(day: date) -> str:
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
    return _paris_midnight(date.fromisoformat(started)) if started else None


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    return "2-5" if age <= 5 else "6-10" if age <= 10 else "11-16"


def _code(value: Any, names: Mapping[str, str], fallback: str) -> str:
    """``value`` if it has a label, else ``fallback``. A code added to the contract later
    must still land in a published cell: left out, the total minus the cells shown would
    give its (small) count back."""
    return str(value) if value in names else fallback


def _days(start: str, end: Any) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400


# --- publishing with suppression --------------------------------------------------------------

#: For a region: per indicator key, the cells to hide because of its PRE (see compute_all).
_FORCED: ContextVar[Mapping[str, set[str]]] = ContextVar("forced", default=MappingProxyType({}))


def _forced(key: str) -> set[str]:
    return _FORCED.get().get(key, set())


def _hide_count(key: str, n: int, threshold: int) -> bool:
    return 0 < n < threshold or "_total" in _forced(key)


def _one_way(
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
        hidden = suppress_table(cells, [("_total", keys)], threshold, _forced(ind.key))
    else:
        hidden = suppress_table(cells, [], threshold, _forced(ind.key))
    figure = ind.figure(
        None if "_total" in hidden else (total if total is not None else None),
        suppressed="_total" in hidden,
    )
    figure.cells = [Cell(k, names[k], None if k in hidden else cells[k], k in hidden) for k in keys]
    return figure


def _durations(
    ind: Indicator,
    samples: Sequence[tuple[str, float]],
    names: Mapping[str, str] | None,
    threshold: int,
) -> Figure:
    """Median delay in days over all measures, and by category when ``names`` is given."""
    n = len(samples)
    if names is None:
        hidden_all = _hide_count(ind.key, n, threshold)
        value = None if hidden_all or n == 0 else round(statistics.median(v for _, v in samples), 1)
        return ind.figure(value, suppressed=hidden_all, count=None if hidden_all else n)
    by: dict[str, list[float]] = {}
    for category, v in samples:
        by.setdefault(category, []).append(v)
    counts = {k: len(v) for k, v in by.items()}
    keys = [k for k in names if k in counts]
    cells = {**counts, "_total": n}
    hidden = suppress_table(cells, [("_total", keys)], threshold, _forced(ind.key))
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


def _share(
    ind: Indicator, parts: Mapping[str, int], names: Mapping[str, str], part: str, threshold: int
) -> Figure:
    """A percentage of ``part`` among all, with the count table behind it protected."""
    total = sum(parts.values())
    keys = list(names)
    cells = {**{k: parts.get(k, 0) for k in keys}, "_total": total}
    hidden = suppress_table(cells, [("_total", keys)], threshold, _forced(ind.key))
    hide = part in hidden or "_total" in hidden
    value = None if hide or total == 0 else round(100 * cells[part] / total, 1)
    figure = ind.figure(value, suppressed=hide, count=None if "_total" in hidden else total)
    figure.cells = [Cell(k, names[k], None if k in hidden else cells[k], k in hidden) for k in keys]
    return figure


# --- the indicators -------------------------------------------------------------------------


def _children_followed(facts: Facts, p: Period, t: int) -> Figure:
    n = len(facts.followed_in(p))
    hidden = _hide_count(CHILDREN_FOLLOWED.key, n, t)
    return CHILDREN_FOLLOWED.figure(None if hidden else n, suppressed=hidden)


def _new_referrals(facts: Facts, p: Period, t: int) -> Figure:
    n = len(facts.submitted_in(p))
    hidden = _hide_count(NEW_REFERRALS.key, n, t)
    return NEW_REFERRALS.figure(None if hidden else n, suppressed=hidden)


def _sources(facts: Facts, p: Period, t: int) -> Figure:
    referrals = facts.submitted_in(p)
    counts = Counter(_code(r.get("source_category"), labels.SOURCE, "other") for r in referrals)
    return _one_way(REFERRAL_SOURCES, counts, labels.SOURCE, t, total=len(referrals))


def _reasons(facts: Facts, p: Period, t: int) -> Figure:
    counts = Counter(
        c
        for r in facts.submitted_in(p)
        for c in {_code(code, labels.REASON, "other") for code in r.get("reason_categories", ())}
    )
    return _one_way(REFERRAL_REASONS, counts, labels.REASON, t)


def _axes(facts: Facts, p: Period, t: int) -> Figure:
    counts = Counter(a for s in facts.followed_in(p) for a in s.get("axes_worked", ()))
    return _one_way(AXES_WORKED, counts, labels.AXIS, t)


def _age_sex(facts: Facts, p: Period, t: int) -> Figure:
    table: Counter[tuple[str, str]] = Counter()
    for s in facts.followed_in(p):
        child = facts.first_referral(s)
        table[
            (age_band(child.get("age_years")), _code(child.get("sex"), labels.SEX, "unknown"))
        ] += 1
    rows = [b for b in labels.AGE_BAND if any(table[(b, x)] for x in labels.SEX)]
    cols = [x for x in labels.SEX if any(table[(b, x)] for b in labels.AGE_BAND)]
    cells: dict[str, int] = {f"{b}|{x}": table[(b, x)] for b in rows for x in cols}
    cells.update({f"{b}|total": sum(table[(b, x)] for x in cols) for b in rows})
    cells.update({f"total|{x}": sum(table[(b, x)] for b in rows) for x in cols})
    cells["_total"] = sum(table.values())
    constraints: list[Constraint] = [(f"{b}|total", [f"{b}|{x}" for x in cols]) for b in rows]
    constraints += [(f"total|{x}", [f"{b}|{x}" for b in rows]) for x in cols]
    constraints += [
        ("_total", [f"{b}|total" for b in rows]),
        ("_total", [f"total|{x}" for x in cols]),
    ]
    hidden = suppress_table(cells, constraints, t, _forced(AGE_SEX.key))
    figure = AGE_SEX.figure(
        None if "_total" in hidden else cells["_total"], suppressed="_total" in hidden
    )
    row_names = {**labels.AGE_BAND, "total": "Tous âges"}
    col_names = {**labels.SEX, "total": "Ensemble"}
    for b in [*rows, "total"]:
        for x in [*cols, "total"]:
            key = "_total" if b == x == "total" else f"{b}|{x}"
            if key == "_total":
                continue
            figure.cells.append(
                Cell(
                    key,
                    f"{row_names[b]} · {col_names[x]}",
                    None if key in hidden else cells[key],
                    key in hidden,
                )
            )
    return figure


def _qpv(facts: Facts, p: Period, t: int) -> Figure:
    parts = Counter(
        _code(facts.first_referral(s).get("lives_in_qpv"), labels.QPV, "unknown")
        for s in facts.followed_in(p)
    )
    return _share(QPV_SHARE, parts, labels.QPV, "yes", t)


def _referral_to_review(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for s in facts.situations:
        reviewed = s.get("first_review_at")
        submitted = facts.first_referral(s).get("submitted_at")
        if p.holds(reviewed) and submitted:
            samples.append(("all", _days(submitted, reviewed)))
    return _durations(DELAY_REFERRAL_REVIEW, samples, None, t)


def _review_to_take_up(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for s in facts.situations:
        started = s.get("first_consent_at")
        if s.get("decision") == "take_up" and p.holds(started) and s.get("decided_at"):
            samples.append(("all", max(0.0, _days(s["decided_at"], started))))
    return _durations(DELAY_REVIEW_TAKE_UP, samples, None, t)


def _partner(handover: Doc) -> str:
    return _code(handover.get("partner_category"), labels.PARTNER, "other")


def _handover_answer(facts: Facts, p: Period, t: int) -> Figure:
    samples = [
        (_partner(h), _days(h["requested_at"], h["answered_at"]))
        for h in facts.handovers
        if p.holds(h.get("answered_at")) and h.get("requested_at")
    ]
    return _durations(DELAY_HANDOVER_ANSWER, samples, labels.PARTNER, t)


def _waitlist(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for h in facts.handovers:
        waited, ended = h.get("waitlisted_at"), h.get("accepted_at")
        if waited and p.holds(ended) and ended >= waited:
            samples.append((_partner(h), _days(waited, ended)))
    return _durations(WAITLIST_TIME, samples, labels.PARTNER, t)


def _waiting(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for h in facts.handovers:
        waited = h.get("waitlisted_at")
        if waited is None or waited >= p.end:
            continue
        ends = [h.get(k) for k in ("accepted_at", "declined_at", "completed_at", "cancelled_at")]
        if any(e is not None and e < p.end for e in ends):
            continue
        samples.append((_partner(h), _days(waited, p.end)))
    return _durations(WAITLIST_PENDING, samples, labels.PARTNER, t)


def _duration_band(days: float) -> str:
    months = days / 30.4375
    return "lt6" if months < 6 else "6-12" if months < 12 else "12-18" if months < 18 else "ge18"


def _parcours_duration(facts: Facts, p: Period, t: int) -> Figure:
    samples = [
        (_duration_band(d), d)
        for s in facts.situations
        if p.holds(s.get("closed_at")) and s.get("started_on")
        for d in [_days(_paris_midnight(date.fromisoformat(s["started_on"])), s["closed_at"])]
    ]
    figure = _durations(PARCOURS_DURATION, samples, labels.DURATION_BAND, t)
    # Bands show how many parcours, not a median per band.
    for cell in figure.cells:
        cell.value, cell.count = (None, None) if cell.suppressed else (cell.count, None)
    return figure


def _exit_reasons(facts: Facts, p: Period, t: int) -> Figure:
    closed = [s for s in facts.situations if p.holds(s.get("closed_at"))]
    counts = Counter(_code(s.get("exit_reason"), labels.EXIT, "other") for s in closed)
    return _one_way(EXIT_REASONS, counts, labels.EXIT, t, total=len(closed))


def _followups(facts: Facts, p: Period, t: int) -> Figure:
    due = [s for s in facts.situations if p.holds_day(s.get("followup_due_on"))]
    done = sum(
        1
        for s in due
        if s.get("followup_held_on") and s["followup_held_on"] < p.end_day.isoformat()
    )
    return _share(
        FOLLOWUPS_DONE, {"done": done, "not_done": len(due) - done}, labels.FOLLOWUP, "done", t
    )


def _consents_withdrawn(facts: Facts, p: Period, t: int) -> Figure:
    n = sum(
        1
        for s in facts.situations
        for at in (s.get("consent_withdrawals") or {}).values()
        if p.holds(at)
    )
    hidden = _hide_count(CONSENTS_WITHDRAWN.key, n, t)
    return CONSENTS_WITHDRAWN.figure(None if hidden else n, suppressed=hidden)


CHILDREN_FOLLOWED = Indicator(
    "children_followed",
    "Enfants suivis",
    "Enfants distincts dont le parcours était en cours à un moment de la période : parcours "
    "commencé (accord de la famille après une décision de prise en charge de l'EPS) avant la "
    "fin de la période et non clos avant son début.",
    "enfants",
    _children_followed,
)
NEW_REFERRALS = Indicator(
    "new_referrals",
    "Nouvelles orientations",
    "Nombre d'orientations reçues par le PRE pendant l'année scolaire "
    "(du 1er septembre au 31 août), quelle que soit leur issue.",
    "orientations",
    _new_referrals,
)
REFERRAL_SOURCES = Indicator(
    "referral_sources",
    "Origine des orientations",
    "Nouvelles orientations de la période selon le type d'institution qui a orienté l'enfant.",
    "orientations",
    _sources,
)
REFERRAL_REASONS = Indicator(
    "referral_reasons",
    "Motifs d'orientation",
    "Nouvelles orientations de la période par motif (difficultés repérées).",
    "orientations",
    _reasons,
    note="Une orientation peut porter plusieurs motifs : les lignes ne s'additionnent pas.",
)
AXES_WORKED = Indicator(
    "axes_worked",
    "Axes travaillés",
    "Enfants suivis dont le parcours travaille chaque axe (retenu par l'EPS, inscrit au plan "
    "ou noté à la fin du parcours).",
    "enfants",
    _axes,
    note="Un parcours peut travailler plusieurs axes : les lignes ne s'additionnent pas.",
)
AGE_SEX = Indicator(
    "age_sex",
    "Âge et sexe des enfants suivis",
    "Enfants suivis par tranche d'âge à l'orientation (2-5, 6-10, 11-16 ans) et par sexe.",
    "enfants",
    _age_sex,
)
QPV_SHARE = Indicator(
    "qpv_share",
    "Part des enfants suivis résidant en QPV",
    "Pourcentage des enfants suivis qui résident dans un quartier prioritaire de la "
    "politique de la ville (QPV), d'après l'orientation.",
    "%",
    _qpv,
    cell_unit="enfants",
)
DELAY_REFERRAL_REVIEW = Indicator(
    "delay_referral_review",
    "Délai entre orientation et décision de l'EPS",
    "Médiane, en jours, du temps écoulé entre la première orientation d'un enfant et la "
    "première décision de l'équipe pluridisciplinaire, pour les décisions prises dans la période.",
    "jours",
    _referral_to_review,
)
DELAY_REVIEW_TAKE_UP = Indicator(
    "delay_review_take_up",
    "Délai entre décision de prise en charge et début du parcours",
    "Médiane, en jours, du temps écoulé entre la décision de prise en charge de l'EPS et le "
    "premier accord de la famille, pour les parcours commencés dans la période.",
    "jours",
    _review_to_take_up,
)
DELAY_HANDOVER_ANSWER = Indicator(
    "delay_handover_answer",
    "Délai de réponse des partenaires",
    "Médiane, en jours, du temps écoulé entre le passage de relais à un partenaire et sa "
    "première réponse (acceptation, refus ou liste d'attente), par type de partenaire.",
    "jours",
    _handover_answer,
)
WAITLIST_TIME = Indicator(
    "waitlist_time",
    "Temps passé en liste d'attente",
    "Médiane, en jours, du temps passé sur la liste d'attente d'un partenaire avant la prise "
    "en charge, pour les attentes terminées dans la période, par type de partenaire.",
    "jours",
    _waitlist,
)
WAITLIST_PENDING = Indicator(
    "waitlist_pending",
    "Relais encore en liste d'attente",
    "Relais encore sur la liste d'attente d'un partenaire à la fin de la période : médiane, "
    "en jours, de l'attente déjà écoulée, par type de partenaire.",
    "jours",
    _waiting,
)
PARCOURS_DURATION = Indicator(
    "parcours_duration",
    "Durée des parcours clos",
    "Médiane, en jours, de la durée des parcours clos dans la période (du début du parcours à "
    "sa clôture), et nombre de parcours par tranche de durée.",
    "jours",
    _parcours_duration,
    cell_unit="parcours",
)
EXIT_REASONS = Indicator(
    "exit_reasons",
    "Motifs de fin de parcours",
    "Parcours clos dans la période selon le motif de fin.",
    "parcours",
    _exit_reasons,
)
FOLLOWUPS_DONE = Indicator(
    "followups_done",
    "Suivis à six mois réalisés",
    "Pourcentage des suivis à six mois dus dans la période (six mois après la fin du "
    "parcours) qui ont eu lieu.",
    "%",
    _followups,
    cell_unit="suivis",
)
CONSENTS_WITHDRAWN = Indicator(
    "consents_withdrawn",
    "Retraits de consentement",
    "Nombre de consentements retirés par les familles pendant la période.",
    "retraits",
    _consents_withdrawn,
)

#: Every indicator, in the order the dashboard and exports show them.
INDICATORS: tuple[Indicator, ...] = (
    CHILDREN_FOLLOWED,
    NEW_REFERRALS,
    REFERRAL_SOURCES,
    REFERRAL_REASONS,
    AXES_WORKED,
    AGE_SEX,
    QPV_SHARE,
    DELAY_REFERRAL_REVIEW,
    DELAY_REVIEW_TAKE_UP,
    DELAY_HANDOVER_ANSWER,
    WAITLIST_TIME,
    WAITLIST_PENDING,
    PARCOURS_DURATION,
    EXIT_REASONS,
    FOLLOWUPS_DONE,
    CONSENTS_WITHDRAWN,
)


def compute_all(
    docs: Projections, period: Period, threshold: int, pre_ids: Sequence[str] = ()
) -> list[Figure]:
    """Every figure of the documents' scope. With several ``pre_ids`` (a region), a cell
    that exactly one PRE hides in its own figures is hidden in the region's too, so that
    the region minus the other PRE cannot give it back."""
    facts = Facts(docs)
    forced: dict[str, set[str]] = {}
    if len(pre_ids) > 1:
        parts = [
            {f.key: _cell_counts(f) for f in compute_all(docs_of(docs, [pre]), period, threshold)}
            for pre in pre_ids
        ]
        for ind in INDICATORS:
            forced[ind.key] = linked_to_parts([part[ind.key] for part in parts])
    token = _FORCED.set(forced)
    try:
        return [ind.compute(facts, period, threshold) for ind in INDICATORS]
    finally:
        _FORCED.reset(token)


def _cell_counts(figure: Figure) -> dict[str, tuple[int, bool]]:
    """Each cell's count (the number of measures for medians) and whether it is hidden."""
    counts = {"_total": (int(figure.count or figure.value or 0), figure.suppressed)}
    for c in figure.cells:
        counts[c.key] = (int(c.count or c.value or 0), c.suppressed)
    return counts


def docs_of(docs: Projections, pre_ids: Iterable[str]) -> Projections:
    wanted = set(pre_ids)
    return {k: d for k, d in docs.items() if d.get("pre_id") in wanted}
