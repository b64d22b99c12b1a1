"""Every indicator, defined once: key, French label, definition, and how it is computed.

Figures are computed from the fact documents (``facts``) of one PRE or of a region, for a
period (a school year, possibly cut at an "as of" day), then published through small-cell
protection (``suppression``): no figure below the threshold, nor one that could be
recomputed from totals and margins, ever leaves this module unsuppressed. The period,
figures and publishing helpers they share are in ``figures``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from relais_reporting.domain import labels
from relais_reporting.domain.facts import Doc, Projections
from relais_reporting.domain.figures import (
    FORCED,
    Cell,
    Facts,
    Figure,
    Indicator,
    Period,
    age_band,
    code_in,
    days_between,
    durations,
    forced,
    hide_count,
    one_way,
    paris_midnight,
    share,
)
from relais_reporting.domain.suppression import Constraint, linked_to_parts, suppress_table

__all__ = ["INDICATORS", "Cell", "Facts", "Figure", "Indicator", "Period", "compute_all", "docs_of"]


# --- the indicators -------------------------------------------------------------------------


def _children_followed(facts: Facts, p: Period, t: int) -> Figure:
    n = len(facts.followed_in(p))
    hidden = hide_count(CHILDREN_FOLLOWED.key, n, t)
    return CHILDREN_FOLLOWED.figure(None if hidden else n, suppressed=hidden)


def _new_referrals(facts: Facts, p: Period, t: int) -> Figure:
    n = len(facts.submitted_in(p))
    hidden = hide_count(NEW_REFERRALS.key, n, t)
    return NEW_REFERRALS.figure(None if hidden else n, suppressed=hidden)


def _sources(facts: Facts, p: Period, t: int) -> Figure:
    referrals = facts.submitted_in(p)
    counts = Counter(code_in(r.get("source_category"), labels.SOURCE, "other") for r in referrals)
    return one_way(REFERRAL_SOURCES, counts, labels.SOURCE, t, total=len(referrals))


def _reasons(facts: Facts, p: Period, t: int) -> Figure:
    counts = Counter(
        c
        for r in facts.submitted_in(p)
        for c in {code_in(code, labels.REASON, "other") for code in r.get("reason_categories", ())}
    )
    return one_way(REFERRAL_REASONS, counts, labels.REASON, t)


def _axes(facts: Facts, p: Period, t: int) -> Figure:
    counts = Counter(a for s in facts.followed_in(p) for a in s.get("axes_worked", ()))
    return one_way(AXES_WORKED, counts, labels.AXIS, t)


def _age_sex(facts: Facts, p: Period, t: int) -> Figure:
    table: Counter[tuple[str, str]] = Counter()
    for s in facts.followed_in(p):
        child = facts.first_referral(s)
        table[
            (age_band(child.get("age_years")), code_in(child.get("sex"), labels.SEX, "unknown"))
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
    hidden = suppress_table(cells, constraints, t, forced(AGE_SEX.key))
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
        code_in(facts.first_referral(s).get("lives_in_qpv"), labels.QPV, "unknown")
        for s in facts.followed_in(p)
    )
    return share(QPV_SHARE, parts, labels.QPV, "yes", t)


def _referral_to_review(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for s in facts.situations:
        reviewed = s.get("first_review_at")
        submitted = facts.first_referral(s).get("submitted_at")
        if p.holds(reviewed) and submitted:
            samples.append(("all", days_between(submitted, reviewed)))
    return durations(DELAY_REFERRAL_REVIEW, samples, None, t)


def _review_to_take_up(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for s in facts.situations:
        started = s.get("first_consent_at")
        if s.get("decision") == "take_up" and p.holds(started) and s.get("decided_at"):
            samples.append(("all", max(0.0, days_between(s["decided_at"], started))))
    return durations(DELAY_REVIEW_TAKE_UP, samples, None, t)


def _partner(handover: Doc) -> str:
    return code_in(handover.get("partner_category"), labels.PARTNER, "other")


def _handover_answer(facts: Facts, p: Period, t: int) -> Figure:
    samples = [
        (_partner(h), days_between(h["requested_at"], h["answered_at"]))
        for h in facts.handovers
        if p.holds(h.get("answered_at")) and h.get("requested_at")
    ]
    return durations(DELAY_HANDOVER_ANSWER, samples, labels.PARTNER, t)


def _waitlist(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for h in facts.handovers:
        waited, ended = h.get("waitlisted_at"), h.get("accepted_at")
        if waited and p.holds(ended) and ended >= waited:
            samples.append((_partner(h), days_between(waited, ended)))
    return durations(WAITLIST_TIME, samples, labels.PARTNER, t)


def _waiting(facts: Facts, p: Period, t: int) -> Figure:
    samples = []
    for h in facts.handovers:
        waited = h.get("waitlisted_at")
        if waited is None or waited >= p.end:
            continue
        ends = [h.get(k) for k in ("accepted_at", "declined_at", "completed_at", "cancelled_at")]
        if any(e is not None and e < p.end for e in ends):
            continue
        samples.append((_partner(h), days_between(waited, p.end)))
    return durations(WAITLIST_PENDING, samples, labels.PARTNER, t)


def _duration_band(days: float) -> str:
    months = days / 30.4375
    return "lt6" if months < 6 else "6-12" if months < 12 else "12-18" if months < 18 else "ge18"


def _parcours_duration(facts: Facts, p: Period, t: int) -> Figure:
    samples = [
        (_duration_band(d), d)
        for s in facts.situations
        if p.holds(s.get("closed_at")) and s.get("started_on")
        for d in [days_between(paris_midnight(date.fromisoformat(s["started_on"])), s["closed_at"])]
    ]
    figure = durations(PARCOURS_DURATION, samples, labels.DURATION_BAND, t)
    # Bands show how many parcours, not a median per band.
    for cell in figure.cells:
        cell.value, cell.count = (None, None) if cell.suppressed else (cell.count, None)
    return figure


def _exit_reasons(facts: Facts, p: Period, t: int) -> Figure:
    closed = [s for s in facts.situations if p.holds(s.get("closed_at"))]
    counts = Counter(code_in(s.get("exit_reason"), labels.EXIT, "other") for s in closed)
    return one_way(EXIT_REASONS, counts, labels.EXIT, t, total=len(closed))


def _followups(facts: Facts, p: Period, t: int) -> Figure:
    due = [s for s in facts.situations if p.holds_day(s.get("followup_due_on"))]
    done = sum(
        1
        for s in due
        if s.get("followup_held_on") and s["followup_held_on"] < p.end_day.isoformat()
    )
    return share(
        FOLLOWUPS_DONE, {"done": done, "not_done": len(due) - done}, labels.FOLLOWUP, "done", t
    )


def _consents_withdrawn(facts: Facts, p: Period, t: int) -> Figure:
    n = sum(
        1
        for s in facts.situations
        for at in (s.get("consent_withdrawals") or {}).values()
        if p.holds(at)
    )
    hidden = hide_count(CONSENTS_WITHDRAWN.key, n, t)
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
    docs: Projections, period: Period, threshold: int, tenants: Sequence[str] = ()
) -> list[Figure]:
    """Every figure of the documents' scope. With several ``tenants`` (a region), a cell
    that exactly one PRE hides in its own figures is hidden in the region's too, so that
    the region minus the other PRE cannot give it back."""
    facts = Facts(docs)
    forced: dict[str, set[str]] = {}
    if len(tenants) > 1:
        parts = [
            {
                f.key: _cell_counts(f)
                for f in compute_all(docs_of(docs, [tenant]), period, threshold)
            }
            for tenant in tenants
        ]
        for ind in INDICATORS:
            forced[ind.key] = linked_to_parts([part[ind.key] for part in parts])
    token = FORCED.set(forced)
    try:
        return [ind.compute(facts, period, threshold) for ind in INDICATORS]
    finally:
        FORCED.reset(token)


def _cell_counts(figure: Figure) -> dict[str, tuple[int, bool]]:
    """Each cell's count (the number of measures for medians) and whether it is hidden."""
    counts = {"_total": (int(figure.count or figure.value or 0), figure.suppressed)}
    for c in figure.cells:
        counts[c.key] = (int(c.count or c.value or 0), c.suppressed)
    return counts


def docs_of(docs: Projections, tenants: Iterable[str]) -> Projections:
    wanted = set(tenants)
    return {k: d for k, d in docs.items() if d.get("pre_id") in wanted}
