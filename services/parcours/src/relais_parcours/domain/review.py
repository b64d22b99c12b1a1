"""Rules of the team review (EPS) and of référents' caseloads."""

from __future__ import annotations

from datetime import date

from relais_contracts.types import ReviewDecision
from relais_parcours.domain.situation import Stage

#: Stage of the situation after each decision.
STAGE_AFTER = {
    ReviewDecision.TAKE_UP: Stage.IN_PARCOURS,
    ReviewDecision.REDIRECT: Stage.REDIRECTED,
    ReviewDecision.DECLINE: Stage.DECLINED,
}


def caseload_allows(current: int, limit: int) -> bool:
    """Whether one more situation fits under the limit (going over needs an override)."""
    return current < limit


def meeting_held(meets_on: date, today: date) -> bool:
    """A decision is the team's at its meeting: not recorded before the meeting's day."""
    return meets_on <= today
