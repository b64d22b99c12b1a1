"""What parcours writes to the access log (relais_runtime.audit): record types, field
groups and the purposes its routes serve. Groups name kinds of data, never values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from relais_runtime import audit
from relais_runtime.auth import Principal

# Purposes (the "why" of a line): one per kind of work a route serves.
TEAM_FOLLOW_UP = "suivi de la situation par l'équipe du PRE"
PARTNER_HANDOVER = "secret partagé avec un partenaire (CASF L.121-6-2), dans le consentement"
FAMILY_INFORMATION = "information de la famille sur son dossier"
ERASURE = "effacement (droit à l'effacement ou fin de la durée de conservation)"
CONSENT = "recueil du consentement de la famille au partage (CASF L.121-6-2)"
CONSENT_ENDED = "fin de validité du consentement de la famille"
FAMILY_REQUEST = "demande de la famille sur ses données (RGPD art. 16 et 17)"

# Field groups of a situation's referral identity, as the vault holds them.
IDENTITY_GROUPS = ("identity.child", "identity.guardians", "referrer", "reasons.description")
# What a family document or the family space shows (parcours.service.family_space).
FAMILY_VIEW_GROUPS = ("identity.child", "identity.guardians", "consent", "plan", "disclosures")

# What a change of a handover touches (handovers table), by kind of change.
HANDOVER_CANCEL = ("handover.status", "handover.cancel_reason")
HANDOVER_ANSWER: dict[str, tuple[str, ...]] = {
    "accepted": ("handover.status", "handover.dates"),
    "waitlisted": ("handover.status", "handover.dates"),
    "declined": ("handover.status", "handover.decline_reason"),
    "completed": ("handover.status", "handover.outcome"),
}

# A consent ended (superseded, withdrawn, expired): its status and end.
CONSENT_END = ("consent.status",)

# A family's request (family_requests): made by a guardian, answered by a coordinator.
REQUEST_MADE = ("family_request.kind", "family_request.details")
REQUEST_ANSWERED = ("family_request.status", "family_request.answer")


def request_groups(row: Any) -> tuple[str, ...]:
    """What a coordinator reads of a family's request: its words, and the answer if any."""
    groups: tuple[str, ...] = ("family_request.kind", "family_request.details")
    return (*groups, "family_request.answer") if row["status"] == "answered" else groups


def consent_ledger_groups(rows: Iterable[Any]) -> tuple[str, ...]:
    """What the consent ledger shows: who agreed, for what, how (the texts if written)."""
    groups = ["consent.form", "consent.guardians", "consent.scope", "consent.validity"]
    listed = list(rows)
    for column in ("sole_guardian_reason", "witness"):
        if any(r.get(f"{column}_enc") is not None or r.get(column) is not None for r in listed):
            groups.append(f"consent.{column}")
    return tuple(groups)


# The six-month follow-up of a closed parcours (followups table).
FOLLOWUP = ("followup.outcome", "followup.held_on")


def closure_groups(*, with_text: bool) -> tuple[str, ...]:
    """What closing a parcours writes on the situation (the reason in words if given)."""
    groups = (
        "situation.stage",
        "situation.exit_reason",
        "situation.final_review_held",
        "situation.followup_due_on",
    )
    return (*groups, "situation.exit_reason_text") if with_text else groups


def consent_groups(*, sole_guardian_reason: bool, witness: bool) -> tuple[str, ...]:
    """What a consent given records: who agreed, for what sharing, until when, how."""
    groups: tuple[str, ...] = (
        "consent.form",
        "consent.guardians",
        "consent.scope",
        "consent.validity",
    )
    groups += ("consent.sole_guardian_reason",) if sole_guardian_reason else ()
    return (*groups, "consent.witness") if witness else groups


# A plan item's columns by the field group a change of them records.
_PLAN_GROUPS = {
    "axis": "plan.axis",
    "title": "plan.title",
    "status": "plan.status",
    "target_on": "plan.dates",
    "starts_on": "plan.dates",
    "ends_on": "plan.dates",
}


def plan_groups(columns: Iterable[str]) -> tuple[str, ...]:
    """The field groups of a plan objective's or action's columns written (added: all)."""
    return tuple(sorted({_PLAN_GROUPS[c] for c in columns if c in _PLAN_GROUPS}))


def handover_request_groups(*, with_message: bool) -> tuple[str, ...]:
    groups = ("handover.partner", "handover.action", "handover.data_categories")
    return (*groups, "handover.message") if with_message else groups


def readout(
    who: Principal,
    record_type: str,
    record_id: object,
    situation_id: uuid.UUID | str | None,
    field_groups: Sequence[str],
    purpose: str,
) -> audit.Access:
    """The line of a read (``uow.record_access`` writes it in the unit that reads)."""
    return audit.Access.by(
        who,
        "read",
        record_type,
        record_id,
        situation_id=situation_id,
        field_groups=field_groups,
        purpose=purpose,
    )


def changed(
    who: Principal,
    record_type: str,
    record_id: object,
    situation_id: uuid.UUID | str,
    field_groups: Sequence[str],
    purpose: str,
) -> audit.Access:
    """The line of a change (``uow.record_access`` writes it in the unit that changes)."""
    return audit.Access.by(
        who,
        "change",
        record_type,
        record_id,
        situation_id=situation_id,
        field_groups=field_groups,
        purpose=purpose,
    )


def erased(who: Principal, situation_id: uuid.UUID, reason: str) -> audit.Access:
    """The line of an erasure, every group of the situation's personal data, for ``reason``
    (``uow.record_access`` writes it in the unit that erases)."""
    return audit.Access.by(
        who,
        "erase",
        "situation",
        situation_id,
        situation_id=situation_id,
        field_groups=(*IDENTITY_GROUPS, "family_texts", "handovers"),
        purpose=f"{ERASURE} : {reason}",
    )
