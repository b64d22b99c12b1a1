"""The life of a handover: which answers a partner may give, and when."""

from __future__ import annotations

from datetime import date
from typing import Any

from relais_parcours.domain.consent import in_force, names_partner

#: Statuses in which the partner still holds the handover (and may read its sheet).
OPEN = frozenset({"requested", "accepted", "waitlisted"})

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
