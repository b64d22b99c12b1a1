"""The life of a handover: which answers a partner may give, and when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from relais_contracts.types import HandoverCancelReason
from relais_contracts.v1.parcours import HandoverCancelled
from relais_parcours.domain.consent import Row, in_force, names_partner


class HandoverStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


#: Statuses in which the partner still holds the handover (and may read its sheet).
OPEN = frozenset({HandoverStatus.REQUESTED, HandoverStatus.ACCEPTED, HandoverStatus.WAITLISTED})


class HandoverClosedError(Exception):
    """A handover that already ended cannot be cancelled."""


@dataclass(frozen=True)
class Handover:
    """One action of the plan entrusted to a partner, as far as its rules need."""

    id: uuid.UUID
    tenant: str
    situation_id: uuid.UUID
    subject_id: uuid.UUID
    partner_id: str
    referent_id: uuid.UUID
    status: HandoverStatus
    data_categories: frozenset[str] = frozenset()

    @classmethod
    def of(cls, row: Row) -> Handover:
        """From a stored row (``handovers`` joined with the situation's ``subject_id``)."""
        return cls(
            id=row["id"],
            tenant=row["pre_id"],
            situation_id=row["situation_id"],
            subject_id=row["subject_id"],
            partner_id=row["partner_id"],
            referent_id=row["referent_id"],
            status=HandoverStatus(row["status"]),
            data_categories=frozenset(row["data_categories"] or ()),
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def cancel(self, reason: HandoverCancelReason, at: datetime) -> HandoverCancelled:
        """The PRE ends the handover: the event that says so (the partner's access ends)."""
        if not self.is_open:
            raise HandoverClosedError(self.status.value)
        return HandoverCancelled(
            handover_id=self.id,
            situation_id=self.situation_id,
            subject_id=self.subject_id,
            partner_id=self.partner_id,
            referent_id=self.referent_id,
            reason=reason,
            cancelled_at=at,
        )


#: Statuses of a handover its partner accepted: only then does the sheet open (secret
#: partagé: before it says yes, a partner needs what it is asked to do, not whom for).
ACCEPTED = frozenset({"accepted", "completed"})

#: Allowed moves: status -> statuses it may go to, by the partner.
PARTNER_MOVES: dict[str, frozenset[str]] = {
    "requested": frozenset({"accepted", "declined", "waitlisted"}),
    "waitlisted": frozenset({"accepted", "declined", "waitlisted"}),
    "accepted": frozenset({"completed"}),
}


def partner_may(current: str, target: str) -> bool:
    return target in PARTNER_MOVES.get(current, frozenset())


STATUS_LABELS = {
    "requested": "en attente de réponse",
    "accepted": "accepté",
    "declined": "refusé",
    "waitlisted": "en liste d'attente",
    "completed": "terminé",
    "cancelled": "annulé",
}


def partner_sees_content(
    status: str, consent: Any, partner_id: str, partner_category: str, today: date
) -> bool:
    """Whether the partner may still read what its handover is about (action, axis, data).

    Only while the handover was not cancelled and the consent in force at this instant
    still names the partner: an action's title (« Bilan psychomoteur ») says as much about
    the child as the sheet does. Otherwise the partner keeps the handover's id, status,
    dates and the reason it ended, enough to close its own file.
    """
    if status == "cancelled" or not in_force(consent, today):
        return False
    return names_partner(consent["scope"], partner_id, partner_category)


def partner_accepted(status: str) -> bool:
    """Whether the partner said yes: its sheet (identity, reasons, the référent's message,
    the data shared) opens then; before, it reads the action and its axis only."""
    return status in ACCEPTED


#: What a partner no longer reads once its handover ended by consent (see ADR 0006).
CONTENT_FIELDS = frozenset({"action_id", "axis", "action_title", "referent_id", "data_categories"})
#: What a partner reads only once it accepted: before, the action and its axis.
AFTER_ACCEPTANCE_FIELDS = frozenset({"referent_id", "data_categories"})


def withheld_from_partner(status: str, content_visible: bool) -> frozenset[str]:
    """The fields of a handover its partner may not read (the PRE's team reads them all).

    Never the situation (a partner knows the handover, not the PRE's file); nothing of
    what it is about once :func:`partner_sees_content` says no; the référent and the data
    shared only once it accepted (:func:`partner_accepted`).
    """
    if not content_visible:
        return frozenset({"situation_id"}) | CONTENT_FIELDS
    if not partner_accepted(status):
        return frozenset({"situation_id"}) | AFTER_ACCEPTANCE_FIELDS
    return frozenset({"situation_id"})
