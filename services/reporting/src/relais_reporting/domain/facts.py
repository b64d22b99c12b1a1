"""Projections: one anonymous fact document per aggregate, folded from the event log.

The same fold serves the live consumer (one event at a time) and the rebuild (the whole
log), so both give the same documents. Every merge is order-independent and idempotent:
earliest dates are kept with ``min``, sets are unions, and values that a later decision
replaces (the review decision, the plan) are taken from the highest envelope
``sequence``. Duplicates and re-ordered deliveries therefore give the same result.

Documents hold codes, dates and pseudonymous ids only (see ``privacy``); dates are UTC
ISO-8601 strings, which sort like the instants they denote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

Doc = dict[str, Any]

REFERRAL = "referral"
SITUATION = "situation"
HANDOVER = "handover"
KINDS = (REFERRAL, SITUATION, HANDOVER)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the anonymous log keeps it."""

    type: str  # CloudEvents type, e.g. fr.relais.referral.submitted.v1
    tenant: str
    subject: str
    sequence: int
    occurred_at: datetime
    data: dict[str, Any]

    @property
    def name(self) -> str:
        """``referral.submitted`` for ``fr.relais.referral.submitted.v1``."""
        parts = self.type.split(".")
        return f"{parts[2]}.{parts[3]}" if len(parts) == 5 else self.type


def utc(value: str | datetime) -> str:
    """A timestamp as canonical UTC ISO text (``2026-10-05T08:31:00+00:00``)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat()


def _min(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _union(a: Iterable[str] | None, b: Iterable[str] | None) -> list[str]:
    return sorted(set(a or ()) | set(b or ()))


def _latest(doc: Doc, group: str, sequence: int, values: dict[str, Any]) -> None:
    """Set ``values`` unless a later (higher-sequence) event of ``group`` already did."""
    key = f"seq_{group}"
    if doc.get(key, 0) <= sequence:
        doc[key] = sequence
        doc.update(values)


Target = tuple[str, str]  # (kind, key)
Fold = Callable[[Doc, LoggedEvent], None]


def _rule(event: LoggedEvent) -> tuple[str, str, Fold] | None:
    # The folds read v1 payloads: a v2 published beside its v1 is ignored until mapped here.
    # By full type (fr.relais.<name>.v1): one look-up per event, the rebuild's hottest line.
    return _RULES_BY_TYPE.get(event.type)


def target_of(event: LoggedEvent) -> Target | None:
    """The one fact document an event updates, or None for events reporting ignores."""
    rule = _rule(event)
    if rule is None:
        return None
    kind, key_field, _ = rule
    key = event.data.get(key_field)
    return (kind, str(key)) if key else None


def apply(doc: Doc, event: LoggedEvent) -> Doc:
    """Fold ``event`` into ``doc`` (mutated and returned). ``doc`` may be empty."""
    rule = _rule(event)
    if rule is None:
        return doc
    doc.setdefault("pre_id", event.tenant)
    rule[2](doc, event)
    return doc


# --- referrals ----------------------------------------------------------------------------


def _referral_submitted(doc: Doc, e: LoggedEvent) -> None:
    d, facts = e.data, e.data.get("facts", {})
    doc.update(
        subject_id=d["subject_id"],
        submitted_at=utc(d["submitted_at"]),
        known_subject=bool(d.get("known_subject")),
        age_years=facts.get("age_years"),
        sex=facts.get("sex"),
        school_level=facts.get("school_level"),
        lives_in_qpv=facts.get("lives_in_qpv"),
        source_category=facts.get("source_category"),
        reason_categories=sorted(facts.get("reason_categories") or []),
        axes=sorted(facts.get("axes") or []),
    )


def _referral_withdrawn(doc: Doc, e: LoggedEvent) -> None:
    doc["subject_id"] = e.data["subject_id"]
    doc["withdrawn_at"] = _min(doc.get("withdrawn_at"), utc(e.data["withdrawn_at"]))


# --- situations ---------------------------------------------------------------------------


def _situation_common(doc: Doc, e: LoggedEvent) -> None:
    doc["subject_id"] = e.data["subject_id"]
    if "referral_ids" in e.data:
        doc["referral_ids"] = _union(doc.get("referral_ids"), e.data["referral_ids"])


def _situation_opened(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["opened_at"] = _min(doc.get("opened_at"), utc(e.data["opened_at"]))


def _referral_attached(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["referral_ids"] = _union(doc.get("referral_ids"), [e.data["referral_id"]])


def _review_decided(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    decided_at = utc(e.data["decided_at"])
    doc["first_review_at"] = _min(doc.get("first_review_at"), decided_at)
    _latest(
        doc,
        "review",
        e.sequence,
        {
            "decision": e.data["decision"],
            "decided_at": decided_at,
            "decline_reason": e.data.get("decline_reason"),
            "redirect_category": e.data.get("redirect_category"),
        },
    )
    doc["axes_worked"] = _union(doc.get("axes_worked"), e.data.get("axes"))


def _referent_assigned(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["first_referent_at"] = _min(doc.get("first_referent_at"), utc(e.data["assigned_at"]))


def _consent_given(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["first_consent_at"] = _min(doc.get("first_consent_at"), utc(e.data["given_at"]))


def _consent_withdrawn(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    withdrawals = dict(doc.get("consent_withdrawals") or {})
    withdrawals[e.data["consent_id"]] = _min(
        withdrawals.get(e.data["consent_id"]), utc(e.data["withdrawn_at"])
    )
    doc["consent_withdrawals"] = dict(sorted(withdrawals.items()))


def _plan_updated(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    axes = [a["axis"] for a in e.data.get("axes") or []]
    doc["axes_worked"] = _union(doc.get("axes_worked"), axes)


def _parcours_closed(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["axes_worked"] = _union(doc.get("axes_worked"), e.data.get("axes"))
    _latest(
        doc,
        "closure",
        e.sequence,
        {
            "closed_at": utc(e.data["closed_at"]),
            "exit_reason": e.data["exit_reason"],
            "started_on": str(e.data["started_on"]),
            "final_review_held": bool(e.data.get("final_review_held")),
        },
    )
    doc["followup_due_on"] = _min(doc.get("followup_due_on"), str(e.data["followup_due_on"]))


def _followup_due(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    doc["followup_due_on"] = _min(doc.get("followup_due_on"), str(e.data["due_on"]))


def _followup_recorded(doc: Doc, e: LoggedEvent) -> None:
    _situation_common(doc, e)
    held = str(date.fromisoformat(str(e.data["held_on"])))
    if doc.get("followup_held_on") is None or held < doc["followup_held_on"]:
        doc["followup_held_on"] = held
        doc["followup_outcome"] = e.data["outcome"]
        doc["followup_recorded_at"] = utc(e.data["recorded_at"])


# --- handovers ----------------------------------------------------------------------------


def _handover_common(doc: Doc, e: LoggedEvent) -> None:
    doc["situation_id"] = e.data["situation_id"]
    doc["subject_id"] = e.data["subject_id"]


def _handover_requested(doc: Doc, e: LoggedEvent) -> None:
    _handover_common(doc, e)
    doc.update(
        partner_category=e.data["partner_category"],
        axis=e.data["axis"],
        requested_at=utc(e.data["requested_at"]),
    )


def _answer(field: str, at_field: str) -> Fold:
    def fold(doc: Doc, e: LoggedEvent) -> None:
        _handover_common(doc, e)
        at = utc(e.data[at_field])
        doc[field] = _min(doc.get(field), at)
        if doc.get("answered_at") is None or at < doc["answered_at"]:
            doc["answered_at"] = at
            doc["first_answer"] = field.removesuffix("_at")
        if field == "declined_at":
            doc["decline_reason"] = e.data.get("reason")

    return fold


def _handover_completed(doc: Doc, e: LoggedEvent) -> None:
    _handover_common(doc, e)
    doc["completed_at"] = _min(doc.get("completed_at"), utc(e.data["completed_at"]))
    doc["outcome"] = e.data["outcome"]


def _handover_cancelled(doc: Doc, e: LoggedEvent) -> None:
    _handover_common(doc, e)
    doc["cancelled_at"] = _min(doc.get("cancelled_at"), utc(e.data["cancelled_at"]))
    doc["cancel_reason"] = e.data.get("reason")


_RULES: dict[str, tuple[str, str, Fold]] = {
    "referral.submitted": (REFERRAL, "referral_id", _referral_submitted),
    "referral.withdrawn": (REFERRAL, "referral_id", _referral_withdrawn),
    "situation.opened": (SITUATION, "situation_id", _situation_opened),
    "situation.referral_attached": (SITUATION, "situation_id", _referral_attached),
    "review.decided": (SITUATION, "situation_id", _review_decided),
    "referent.assigned": (SITUATION, "situation_id", _referent_assigned),
    "consent.given": (SITUATION, "situation_id", _consent_given),
    "consent.withdrawn": (SITUATION, "situation_id", _consent_withdrawn),
    "plan.updated": (SITUATION, "situation_id", _plan_updated),
    "parcours.closed": (SITUATION, "situation_id", _parcours_closed),
    "followup.due": (SITUATION, "situation_id", _followup_due),
    "followup.recorded": (SITUATION, "situation_id", _followup_recorded),
    "handover.requested": (HANDOVER, "handover_id", _handover_requested),
    "handover.accepted": (HANDOVER, "handover_id", _answer("accepted_at", "accepted_at")),
    "handover.declined": (HANDOVER, "handover_id", _answer("declined_at", "declined_at")),
    "handover.waitlisted": (HANDOVER, "handover_id", _answer("waitlisted_at", "waitlisted_at")),
    "handover.completed": (HANDOVER, "handover_id", _handover_completed),
    "handover.cancelled": (HANDOVER, "handover_id", _handover_cancelled),
}


_RULES_BY_TYPE = {f"fr.relais.{name}.v1": rule for name, rule in _RULES.items()}

SUBJECT_ERASED = "fr.relais.subject.erased.v1"

#: The types whose payload reporting reads: folded into a document, or the erasure. Any
#: other type (notifications, a command refused, a type added later) is logged with its
#: envelope only, so no field that nobody vetted for reporting ever rests in the log.
READ_TYPES = frozenset({*_RULES_BY_TYPE, SUBJECT_ERASED})

Projections = dict[Target, Doc]


def fold_all(events: Iterable[LoggedEvent], into: Projections | None = None) -> Projections:
    """Every fact document from ``events`` (the rebuild, and figures known on a past day)."""
    docs: Projections = {} if into is None else into
    for event in events:
        target = target_of(event)
        if target is not None:
            apply(docs.setdefault(target, {}), event)
    return docs
