"""HTTP bodies and answers of the referral API (French messages for people, codes for programs).

The fiche and its rules are the domain's (``domain/content.py``); this module adds what
only HTTP has: the views a sender reads back and the institutions directory.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relais_contracts.types import PreId, ReferralStatus, Slug, SourceCategory
from relais_referral.domain.content import (
    Body,
    Child,
    Email,
    Guardian,
    Name,
    Phone,
    Reasons,
    ReferralContent,
    ReferralRequest,
    Referrer,
    ShortText,
    Siret,
    Uai,
)

__all__ = [
    "Child",
    "Contact",
    "Guardian",
    "InstitutionPage",
    "InstitutionRequest",
    "InstitutionView",
    "Reasons",
    "ReferralContent",
    "ReferralPage",
    "ReferralRequest",
    "ReferralSummary",
    "ReferralView",
    "Referrer",
    "TimelineEntry",
]


class TimelineEntry(BaseModel):
    status: ReferralStatus
    at: datetime
    reason: str | None = None
    redirected_to: str | None = None


class ReferralView(BaseModel):
    """Ce que l'émetteur voit de son orientation : jamais le contenu du parcours, ni si le
    PRE connaissait déjà l'enfant (l'orientation d'un autre émetteur ne le regarde pas)."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    tenant: str = Field(alias="pre_id")
    institution_id: Slug
    status: ReferralStatus
    submitted_at: datetime
    updated_at: datetime
    channel: Literal["http", "amqp"]
    external_ref: str | None = None
    timeline: list[TimelineEntry]
    referral: dict[str, Any] | None = Field(
        description="La fiche envoyée (forme de ReferralContent), relue pour son émetteur ; "
        "null une fois l'identité effacée."
    )


class ReferralSummary(BaseModel):
    id: uuid.UUID
    status: ReferralStatus
    submitted_at: datetime
    updated_at: datetime
    child_first_name: str | None
    child_last_name: str | None


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    total: int
    limit: int
    offset: int


class Contact(Body):
    name: Name
    role: ShortText | None = None
    phone: Phone | None = None
    email: Email | None = None


class InstitutionRequest(Body):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    id: Slug
    tenant: PreId = Field(alias="pre_id")
    name: Name
    category: SourceCategory = Field(description="Type d'établissement (source d'orientation).")
    uai: Uai | None = None
    siret: Siret | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=20)


class InstitutionView(BaseModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    id: str
    tenant: str = Field(alias="pre_id")
    name: str
    category: SourceCategory
    uai: str | None
    siret: str | None
    contacts: list[dict[str, Any]]
    active: bool


class InstitutionPage(BaseModel):
    items: list[InstitutionView]
    total: int
    limit: int
    offset: int
