"""HTTP bodies of the referral API (French messages for people, codes for programs)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from relais_contracts.types import (
    Axis,
    PreId,
    ReasonCategory,
    ReferralStatus,
    SchoolLevel,
    Sex,
    Slug,
    SourceCategory,
    TriState,
)
from relais_referral.domain.referral import MAX_AGE, MIN_AGE, age_on

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^(\+33 ?[1-9]|0[1-9])([ .-]?\d{2}){4}$"),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Child(Body):
    first_name: Name
    last_name: Name
    birth_date: date
    sex: Sex | None = None
    school_name: str | None = Field(default=None, max_length=200)
    school_level: SchoolLevel
    lives_in_qpv: TriState = TriState.UNKNOWN

    @field_validator("birth_date")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > datetime.now(UTC).date():
            raise PydanticCustomError("date_in_future", "La date ne peut pas être dans le futur.")
        age = age_on(value, datetime.now(UTC).date())
        if not MIN_AGE <= age <= MAX_AGE:
            raise PydanticCustomError(
                "age_out_of_range",
                "Le PRE accompagne les enfants de {min} à {max} ans ; cet enfant a {age} ans.",
                {"min": MIN_AGE, "max": MAX_AGE, "age": age},
            )
        return value


class Guardian(Body):
    first_name: Name
    last_name: Name
    relationship: Literal["mother", "father", "legal_guardian", "other"] = "other"
    phone: Phone | None = None
    email: EmailStr | None = None
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=lambda: ["fr"], max_length=5
    )
    interpreter_needed: bool = False


class Referrer(Body):
    name: Name
    role: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    phone: Phone | None = None
    email: EmailStr | None = None


class Reasons(Body):
    categories: list[ReasonCategory] = Field(min_length=1)
    description: str = Field(min_length=1, max_length=5000)


class ReferralRequest(Body):
    """A *fiche de liaison*: what an institution sends to refer a child to its PRE."""

    pre_id: PreId
    child: Child
    guardians: list[Guardian] = Field(min_length=1, max_length=4)
    referrer: Referrer
    reasons: Reasons
    axes: list[Axis] = Field(min_length=1)
    parents_informed: bool
    parents_agree: bool


class TimelineEntry(BaseModel):
    status: ReferralStatus
    at: datetime
    reason: str | None = None
    redirected_to: str | None = None


class ReferralView(BaseModel):
    """What the sender sees of its referral: never the content of the parcours."""

    id: uuid.UUID
    pre_id: str
    institution_id: Slug
    status: ReferralStatus
    submitted_at: datetime
    known_subject: bool
    timeline: list[TimelineEntry]


class InstitutionRequest(Body):
    id: Slug
    pre_id: PreId
    name: Name
    category: SourceCategory
    uai: Annotated[str, StringConstraints(pattern=r"^\d{7}[A-Z]$")] | None = None
    siret: Annotated[str, StringConstraints(pattern=r"^\d{14}$")] | None = None


class InstitutionView(BaseModel):
    id: str
    pre_id: str
    name: str
    category: SourceCategory
    uai: str | None
    siret: str | None
