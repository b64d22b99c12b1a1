"""The sender-visible life of a referral: which status follows which parcours fact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relais_contracts.types import ReferralStatus
from relais_runtime.errors import DomainError

#: Statuses after which nothing more happens to the referral.
FINAL = frozenset(
    {
        ReferralStatus.DECLINED,
        ReferralStatus.REDIRECTED,
        ReferralStatus.CLOSED,
        ReferralStatus.WITHDRAWN,
    }
)

#: Which status may follow which (a late or re-ordered event never moves a referral back).
_ALLOWED: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.RECEIVED: frozenset(
        {
            ReferralStatus.UNDER_REVIEW,
            ReferralStatus.TAKEN_UP,
            ReferralStatus.REDIRECTED,
            ReferralStatus.DECLINED,
            ReferralStatus.WITHDRAWN,
        }
    ),
    ReferralStatus.UNDER_REVIEW: frozenset(
        {
            ReferralStatus.TAKEN_UP,
            ReferralStatus.REDIRECTED,
            ReferralStatus.DECLINED,
            ReferralStatus.WITHDRAWN,
        }
    ),
    ReferralStatus.TAKEN_UP: frozenset({ReferralStatus.CLOSED}),
}


@dataclass(frozen=True)
class StatusChange:
    status: ReferralStatus
    at: datetime
    reason: str | None = None
    redirected_to: str | None = None


def can_move(current: ReferralStatus, target: ReferralStatus) -> bool:
    return target in _ALLOWED.get(current, frozenset())


_TOO_LATE = {
    ReferralStatus.TAKEN_UP: "Le PRE a déjà pris en charge cet enfant : l'orientation ne peut "
    "plus être retirée. Contactez la coordination du PRE.",
    ReferralStatus.WITHDRAWN: "Cette orientation a déjà été retirée.",
}
_ENDED = "Cette orientation est close : elle ne peut plus être retirée."


def check_withdrawable(current: ReferralStatus) -> None:
    """The sender may withdraw a referral only until the PRE has taken the child up."""
    if not can_move(current, ReferralStatus.WITHDRAWN):
        raise DomainError("referral_not_withdrawable", _TOO_LATE.get(current, _ENDED), status=409)
