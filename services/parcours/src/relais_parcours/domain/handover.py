"""The life of a handover: which answers a partner may give, and when."""

from __future__ import annotations

#: Statuses in which the partner still holds the handover (and may read its sheet).
OPEN = frozenset({"requested", "accepted", "waitlisted"})

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
