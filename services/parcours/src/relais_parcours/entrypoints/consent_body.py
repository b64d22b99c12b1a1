"""The body of a consent as the référent records it, and the rules across its fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from relais_contracts.types import ConsentForm, DataCategory, PartnerCategory, Slug
from relais_parcours.entrypoints.validation import Body


class Guardian(Body):
    """Un·e titulaire de l'autorité parentale qui a consenti (un libellé, pas une identité)."""

    label: str = Field(min_length=1, max_length=100, examples=["Mère"])
    relationship: Literal["mother", "father", "legal_guardian", "other"]


class ScopeEntry(Body):
    """Qui peut recevoir quoi : un partenaire, ou tous les partenaires d'une catégorie."""

    partner_id: Slug | None = None
    partner_category: PartnerCategory | None = Field(default=None, validate_default=True)
    data_categories: list[DataCategory] = Field(min_length=1, max_length=len(DataCategory))

    @field_validator("partner_category")
    @classmethod
    def _one_target(
        cls, value: PartnerCategory | None, info: ValidationInfo
    ) -> PartnerCategory | None:
        # A field validator, so the error names the scope entry (scope.N.partner_category).
        if "partner_id" in info.data and (info.data["partner_id"] is None) == (value is None):
            raise PydanticCustomError(
                "scope_target",
                "Indiquez soit un partenaire (partner_id), soit une catégorie de partenaires "
                "(partner_category).",
            )
        return value


class ConsentBody(Body):
    form: ConsentForm
    given_at: AwareDatetime
    valid_until: date | None = None
    guardians: list[Guardian] = Field(min_length=1, max_length=2)
    # validate_default: their rules run when they are left out, which is the mistake.
    sole_guardian_reason: str | None = Field(
        default=None, min_length=3, max_length=500, validate_default=True
    )
    witness: str | None = Field(default=None, min_length=3, max_length=200, validate_default=True)
    scope: list[ScopeEntry] = Field(default_factory=list, max_length=100)

    @field_validator("given_at")
    @classmethod
    def _given_not_in_future(cls, value: datetime) -> datetime:
        # A field validator, so the error names the field (a model validator's has none).
        if value > datetime.now(UTC) + timedelta(minutes=5):
            raise PydanticCustomError(
                "date_in_future", "La date du consentement ne peut pas être dans le futur."
            )
        return value

    @field_validator("valid_until")
    @classmethod
    def _valid_after_given(cls, value: date | None, info: ValidationInfo) -> date | None:
        given_at = info.data.get("given_at")  # absent when given_at itself was invalid
        if value is not None and given_at is not None and value < given_at.date():
            raise PydanticCustomError(
                "valid_until_before_given",
                "La date de fin de validité précède la date du consentement.",
            )
        return value

    @field_validator("guardians")
    @classmethod
    def _two_different_guardians(cls, value: list[Guardian]) -> list[Guardian]:
        # "Mère" twice is one holder of parental authority, not both.
        if len({g.label.casefold() for g in value}) < len(value):
            raise PydanticCustomError(
                "guardians_duplicate",
                "Les deux titulaires de l'autorité parentale doivent être deux personnes "
                "différentes (libellés distincts).",
            )
        return value

    # Field validators reading the fields before them (info.data), so that each error names
    # the field to fill in (a model validator's error has no field).
    @field_validator("sole_guardian_reason")
    @classmethod
    def _sole_guardian_says_why(cls, value: str | None, info: ValidationInfo) -> str | None:
        guardians = info.data.get("guardians")  # absent when guardians itself was invalid
        if guardians is not None and len(guardians) == 1 and not value:
            raise PydanticCustomError(
                "sole_guardian_reason_required",
                "Un seul titulaire de l'autorité parentale a consenti : indiquez pourquoi "
                "(sole_guardian_reason).",
            )
        return value

    @field_validator("witness")
    @classmethod
    def _oral_has_witness(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("form") is ConsentForm.ORAL_WITNESSED and not value:
            raise PydanticCustomError(
                "witness_required", "Un consentement oral doit avoir un témoin (witness)."
            )
        return value
