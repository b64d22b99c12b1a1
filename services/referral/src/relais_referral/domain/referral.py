"""Rules of a referral: who may send one, what the child's facts are, what is sealed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from relais_contracts.types import SourceCategory
from relais_contracts.v1.referral import ReferralFacts
from relais_runtime.errors import DomainError

if TYPE_CHECKING:
    from relais_referral.domain.content import ReferralContent

MIN_AGE = 2
MAX_AGE = 16

PARENTS_DISAGREE = DomainError(
    "parents_agreement_required",
    "Sans l'accord des parents, l'orientation ne peut pas être envoyée au PRE. "
    "Présentez le PRE à la famille et renvoyez la fiche une fois son accord obtenu.",
    status=422,
)
NOT_REGISTERED = DomainError(
    "institution_not_registered",
    "Votre établissement n'est pas enregistré auprès de ce PRE : contactez la coordination du PRE.",
    status=403,
)
INACTIVE = DomainError(
    "institution_inactive",
    "Votre établissement n'est plus habilité à orienter vers ce PRE : "
    "contactez la coordination du PRE.",
    status=403,
)


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day``."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def check_parents_agree(parents_agree: bool) -> None:
    """No referral reaches the PRE without the family's agreement."""
    if not parents_agree:
        raise PARENTS_DISAGREE


def check_sender(active: bool | None) -> None:
    """Only an institution registered with the PRE (``active`` None: not registered), and
    still active, may refer a child."""
    if active is None:
        raise NOT_REGISTERED
    if not active:
        raise INACTIVE


def facts_of(content: ReferralContent, category: str, today: date) -> ReferralFacts:
    """The non-identifying facts of a fiche, the only part read in clear downstream."""
    child = content.child
    return ReferralFacts(
        age_years=age_on(child.birth_date, today),
        sex=child.sex,
        school_level=child.school_level,
        lives_in_qpv=child.lives_in_qpv,
        source_category=SourceCategory(category),
        reason_categories=sorted(set(content.reasons.categories)),
        axes=sorted(set(content.axes)),
    )


def sealed_part(content: Mapping[str, Any]) -> dict[str, Any]:
    """What of a fiche (as JSON) is sealed to the PRE: who the child is, who to call, why."""
    return {
        "child": content["child"],
        "guardians": content["guardians"],
        "referrer": content["referrer"],
        "description": content["reasons"]["description"],
    }
