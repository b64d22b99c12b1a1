"""The sender-visible life of a referral: which status follows which parcours fact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relais_contracts.types import ReferralStatus

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
