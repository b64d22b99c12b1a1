"""Rules of the team review (EPS) and of référents' caseloads."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from relais_contracts.types import Axis, DeclineReason, PartnerCategory, ReviewDecision
from relais_contracts.v1.parcours import ReviewDecided
from relais_parcours.domain.consent import Row
from relais_parcours.domain.dates import FieldRefused
from relais_parcours.domain.situation import Situation, Stage
from relais_runtime.errors import DomainError

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


def check_reviewable(situation: Situation, opened_on: date, meets_on: date, field: str) -> None:
    """A situation goes on a meeting's agenda while it awaits its review, and only if it
    existed on the meeting's day (``opened_on``: its first day; refused on ``field``)."""
    if situation.stage is not Stage.AWAITING_REVIEW:
        raise DomainError(
            "situation_already_reviewed",
            f"La situation {situation.id} a déjà été étudiée en équipe.",
        )
    if meets_on < opened_on:
        raise FieldRefused(
            field,
            "date_before_situation",
            f"La réunion d'équipe du {meets_on:%d/%m/%Y} précède l'ouverture de la "
            f"situation {situation.id}, le {opened_on:%d/%m/%Y} : elle ne peut pas l'examiner.",
        )


@dataclass(frozen=True)
class Meeting:
    """A team meeting (EPS): its day and who attended."""

    id: uuid.UUID
    meets_on: date
    attendees: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, row: Row) -> Meeting:
        return cls(id=row["id"], meets_on=row["meets_on"], attendees=tuple(row["attendees"] or ()))

    def decide(
        self,
        situation: Situation,
        decision_id: uuid.UUID,
        *,
        decision: ReviewDecision,
        decline_reason: DeclineReason | None,
        redirected_to: str | None,
        redirect_category: PartnerCategory | None,
        axes: Iterable[Axis],
        now: datetime,
        today: date,
    ) -> ReviewDecided:
        """The team's decision on a situation of its agenda, recorded from the meeting's day,
        with its attendees named; a situation is reviewed once. A take-up keeps the axes
        chosen (each once, sorted); the other decisions keep none."""
        if not self.attendees:
            raise DomainError(
                "attendees_required",
                "Indiquez les participants à la réunion avant d'enregistrer une décision.",
                422,
            )
        if not meeting_held(self.meets_on, today):
            raise DomainError(
                "review_not_held",
                f"Cette réunion d'équipe est prévue le {self.meets_on:%d/%m/%Y} : "
                "ses décisions s'enregistrent à partir de ce jour.",
            )
        if situation.stage is not Stage.AWAITING_REVIEW:
            raise DomainError(
                "situation_already_reviewed", "Une décision a déjà été prise pour cette situation."
            )
        return ReviewDecided(
            review_id=decision_id,
            situation_id=situation.id,
            subject_id=situation.subject_id,
            referral_ids=list(situation.referral_ids),
            decision=decision,
            decline_reason=decline_reason,
            redirected_to=redirected_to,
            redirect_category=redirect_category,
            axes=sorted(set(axes)) if decision is ReviewDecision.TAKE_UP else [],
            decided_at=now,
        )
