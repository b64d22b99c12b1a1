"""The fiche de liaison and its rules: what an institution sends to refer a child.

Each rule fails with its own code and a French message, on the field it concerns
(``child.birth_date``, ``guardians.0.phone``), and never echoes the value. The same rules
hold whichever way the fiche arrives (HTTP body or AMQP ``referral.submit`` command).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from relais_contracts.types import Axis, PreId, ReasonCategory, SchoolLevel, Sex, TriState
from relais_referral.domain.referral import MAX_AGE, MIN_AGE, age_on
from relais_runtime.bodies import Body as RuntimeBody


def _today() -> date:
    return datetime.now(UTC).date()


def _phone(value: str) -> str:
    """French numbers (``06 12 34 56 78``, ``+33 6 12 34 56 78``) or international ones."""
    compact = re.sub(r"[\s.\-()]", "", value)
    if re.fullmatch(r"0[1-9][0-9]{8}", compact):
        return compact
    if re.fullmatch(r"\+33[1-9][0-9]{8}", compact):
        return "0" + compact[3:]
    if re.fullmatch(r"\+(?!33)[1-9][0-9]{6,14}", compact):
        return compact
    raise PydanticCustomError(
        "phone_invalid",
        "Numéro de téléphone invalide : 10 chiffres commençant par 0 (ex. 06 12 34 56 78) "
        "ou un numéro international commençant par + (ex. +32 470 12 34 56).",
    )


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError(
            "email_invalid", "Adresse e-mail invalide (ex. prenom.nom@exemple.fr)."
        ) from None


def _not_in_future(value: date) -> date:
    if value > _today():
        raise PydanticCustomError("date_in_future", "La date ne peut pas être dans le futur.")
    return value


def _language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}", value):
        raise PydanticCustomError(
            "language_invalid", "Code de langue attendu sur 2 ou 3 lettres (ex. fr, ar, tr, uk)."
        )
    return value


def _uai(value: str) -> str:
    if not re.fullmatch(r"[0-9]{7}[A-Z]", value):
        raise PydanticCustomError(
            "uai_invalid", "Code UAI invalide : 7 chiffres et une lettre majuscule (ex. 0761234A)."
        )
    return value


def _siret(value: str) -> str:
    if not re.fullmatch(r"[0-9]{14}", value):
        raise PydanticCustomError("siret_invalid", "Numéro SIRET invalide : 14 chiffres.")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=30), AfterValidator(_phone)
]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)
]
PastDate = Annotated[date, AfterValidator(_not_in_future)]
Language = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_language)]
Uai = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_uai)]
Siret = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_siret)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Body(RuntimeBody):
    model_config = ConfigDict(str_strip_whitespace=True)


class Child(Body):
    first_name: Name
    last_name: Name
    birth_date: PastDate
    sex: Sex | None = None
    school_name: ShortText | None = None
    school_uai: Uai | None = Field(default=None, description="Code UAI de l'école, s'il est connu.")
    school_level: SchoolLevel
    lives_in_qpv: TriState = TriState.UNKNOWN

    @field_validator("birth_date")
    @classmethod
    def _age_in_range(cls, value: date) -> date:
        age = age_on(value, _today())
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
    parental_authority: bool | None = Field(
        default=None, description="Exerce l'autorité parentale (si connu)."
    )
    phone: Phone | None = None
    email: Email | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    languages: list[Language] = Field(default_factory=lambda: ["fr"], min_length=1, max_length=5)
    interpreter_needed: bool = False


class Referrer(Body):
    """La personne qui a rédigé l'orientation, et comment le PRE peut la joindre."""

    name: Name
    role: ShortText
    phone: Phone | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.phone is None and self.email is None:
            raise PydanticCustomError(
                "referrer_contact_required",
                "Indiquez un téléphone ou une adresse e-mail pour joindre la personne qui oriente.",
            )
        return self


class Reasons(Body):
    categories: list[ReasonCategory] = Field(min_length=1, max_length=len(ReasonCategory))
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class ReferralContent(Body):
    """The fiche itself, as stored encrypted and shown back to its sender."""

    child: Child
    guardians: list[Guardian] = Field(min_length=1, max_length=4)
    referrer: Referrer
    reasons: Reasons
    axes: list[Axis] = Field(min_length=1, max_length=len(Axis))
    parents_informed: bool
    parents_informed_on: PastDate | None = Field(
        default=None, description="Date à laquelle la famille a été informée."
    )
    parents_agree: bool

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if not any(g.phone or g.email or g.address for g in self.guardians):
            raise PydanticCustomError(
                "guardian_contact_required",
                "Indiquez au moins un moyen de joindre la famille "
                "(téléphone, e-mail ou adresse d'un responsable).",
            )
        if self.parents_agree and not self.parents_informed:
            raise PydanticCustomError(
                "parents_not_informed",
                "Les parents ne peuvent pas avoir donné leur accord sans avoir été informés : "
                "vérifiez « parents_informed ».",
            )
        return self


class ReferralRequest(ReferralContent):
    """Une *fiche de liaison* : ce qu'un établissement envoie pour orienter un enfant au PRE."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    tenant: PreId = Field(alias="pre_id")
