"""v1 messages of the referral domain."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from relais_contracts.base import Command, Event, Strict
from relais_contracts.types import (
    Axis,
    CompactJWE,
    PreId,
    ReasonCategory,
    ReferralStatus,
    SchoolLevel,
    Sex,
    Slug,
    SourceCategory,
    TriState,
)

#: ``<field path>:<error code>``: names what is wrong, never a value.
FIELD_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,200}:[a-z0-9_]{1,64}$"

_SEALED_DOC = (
    "Compact JWE (ECDH-ES+A256KW, A256GCM) holding the child's and guardians' identity and the "
    "free-text description. Encrypted to the receiving PRE's public key; only parcours opens it."
)


class ReferralFacts(Strict):
    """Non-identifying facts about a referred child that reporting may read in clear."""

    age_years: int = Field(ge=2, le=16, description="Age in whole years at referral.")
    sex: Sex | None = Field(default=None, description="Only when the sender gave it.")
    school_level: SchoolLevel = Field(description="School level at referral.")
    lives_in_qpv: TriState = Field(description="Lives in a priority neighbourhood (QPV).")
    source_category: SourceCategory = Field(description="Kind of the referring institution.")
    reason_categories: list[ReasonCategory] = Field(
        min_length=1, max_length=len(ReasonCategory), description="Difficulties observed."
    )
    axes: list[Axis] = Field(
        min_length=1, max_length=len(Axis), description="Axes of the plan that seem concerned."
    )


class ReferralSubmitted(Event):
    """An institution referred a child to a PRE; the referral is stored and acknowledged."""

    message_type: ClassVar[str] = "referral.submitted"
    subject_field: ClassVar[str | None] = "referral_id"

    referral_id: uuid.UUID = Field(description="The referral, as the sender knows it.")
    subject_id: uuid.UUID = Field(
        description="Pseudonymous id of the child within the PRE (random, never derived from "
        "identity). The same child referred twice gets the same subject_id."
    )
    known_subject: bool = Field(
        description="True when this child was already referred to this PRE (a duplicate)."
    )
    institution_id: Slug = Field(description="The referring institution.")
    submitted_at: AwareDatetime = Field(description="When the institution submitted it.")
    parents_informed: bool = Field(description="The parents were told of the referral.")
    parents_agree: Literal[True] = Field(
        description="The parents agree to the referral (libre adhésion): always true, a "
        "referral without agreement is refused at intake."
    )
    facts: ReferralFacts = Field(description="What reporting may read in clear.")
    sealed: CompactJWE = Field(description=_SEALED_DOC)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "0b9a2f5e-1c9e-4f0c-9d2e-3b1f6f0c2a11",
                    "subject_id": "7e1d3c2b-5a4f-4e3d-9c2b-1a0f9e8d7c6b",
                    "known_subject": False,
                    "institution_id": "ecole-jules-ferry",
                    "submitted_at": "2026-10-05T08:30:00Z",
                    "parents_informed": True,
                    "parents_agree": True,
                    "facts": {
                        "age_years": 8,
                        "sex": "male",
                        "school_level": "ce2",
                        "lives_in_qpv": "yes",
                        "source_category": "school",
                        "reason_categories": ["learning_difficulties", "behaviour"],
                        "axes": ["schooling", "wellbeing"],
                    },
                    "sealed": "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.AAAA.BBBB.CCCC.DDDD",
                }
            ]
        }
    )


class ReferralWithdrawn(Event):
    """The sender withdrew a referral that was not yet taken up."""

    message_type: ClassVar[str] = "referral.withdrawn"
    subject_field: ClassVar[str | None] = "referral_id"

    referral_id: uuid.UUID = Field(description="The referral withdrawn.")
    subject_id: uuid.UUID = Field(description="Pseudonymous id of the child within the PRE.")
    institution_id: Slug = Field(description="The referring institution.")
    withdrawn_at: AwareDatetime = Field(description="When the sender withdrew it.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "0b9a2f5e-1c9e-4f0c-9d2e-3b1f6f0c2a11",
                    "subject_id": "7e1d3c2b-5a4f-4e3d-9c2b-1a0f9e8d7c6b",
                    "institution_id": "ecole-jules-ferry",
                    "withdrawn_at": "2026-10-07T14:00:00Z",
                }
            ]
        }
    )


class ReferralStatusChanged(Event):
    """The sender-visible status of a referral changed."""

    message_type: ClassVar[str] = "referral.status_changed"
    subject_field: ClassVar[str | None] = "referral_id"

    referral_id: uuid.UUID = Field(description="The referral, as the sender knows it.")
    institution_id: Slug = Field(description="The sender, who must hear about it.")
    status: ReferralStatus = Field(description="The new sender-visible status.")
    previous_status: ReferralStatus | None = Field(
        default=None, description="The status before, if any."
    )
    reason: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,64}$",
        description="A reason code where one exists (decline reason, exit reason).",
    )
    redirected_to: str | None = Field(
        default=None,
        max_length=200,
        description="Name of the service redirected to (an organisation, never a person).",
    )
    changed_at: AwareDatetime = Field(description="When the status changed.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "0b9a2f5e-1c9e-4f0c-9d2e-3b1f6f0c2a11",
                    "institution_id": "ecole-jules-ferry",
                    "status": "declined",
                    "previous_status": "under_review",
                    "reason": "outside_territory",
                    "changed_at": "2026-10-20T17:00:00Z",
                },
                {
                    "referral_id": "0b9a2f5e-1c9e-4f0c-9d2e-3b1f6f0c2a11",
                    "institution_id": "ecole-jules-ferry",
                    "status": "redirected",
                    "previous_status": "under_review",
                    "redirected_to": "CMPP de Rouen rive gauche",
                    "changed_at": "2026-10-20T17:00:00Z",
                },
            ]
        }
    )


class ReferralSubmitRejected(Event):
    """A ``referral.submit`` command was refused and parked; its sender must hear why.

    Carries codes and field names only, never a value from the command: the command's
    identity part is sealed, and what was readable may still hold personal data.
    """

    message_type: ClassVar[str] = "referral.submit_rejected"
    subject_field: ClassVar[str | None] = "command_id"

    command_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The refused command's message id, as the sender published it.",
    )
    institution_id: Slug = Field(
        description="The sender (the last word of the command's routing key)."
    )
    external_ref: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The sender's own reference, when the command was readable enough.",
    )
    code: str = Field(
        pattern=r"^[a-z0-9_]{1,64}$",
        description="Why: invalid_json, invalid_envelope, schema_violation, invalid_referral, "
        "parents_agreement_required, institution_mismatch, sealed_unreadable, ...",
    )
    fields: list[Annotated[str, Field(pattern=FIELD_CODE_PATTERN)]] = Field(
        default_factory=list,
        max_length=50,
        description="Failing fields with their error code (``child.birth_date:date_in_future``); "
        "never their values.",
    )
    rejected_at: AwareDatetime = Field(description="When the command was refused.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "command_id": "5f0c2a11-0b9a-4f0c-9d2e-3b1f6f0c2a11",
                    "institution_id": "ecole-jules-ferry",
                    "external_ref": "ENT-2026-0042",
                    "code": "invalid_referral",
                    "fields": ["child.birth_date:age_out_of_range", "referrer.email:missing"],
                    "rejected_at": "2026-10-05T08:30:02Z",
                }
            ]
        }
    )


class SubmitReferral(Command):
    """An institution integrated over AMQP asks to submit a referral.

    Published on ``relais.intake`` with routing key ``referral.submit.v1.<institution_id>``.
    The identity and free text travel sealed to the referral service's intake key.
    """

    message_type: ClassVar[str] = "referral.submit"

    tenant: PreId = Field(description="The PRE the child is referred to.", alias="pre_id")
    institution_id: Slug = Field(description="The sending institution (its broker user).")
    external_ref: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The sender's own reference, echoed back in its notifications.",
    )
    parents_informed: bool = Field(description="The parents were told of the referral.")
    parents_agree: bool = Field(description="Must be true; a false value is refused.")
    facts: ReferralFacts = Field(description="What reporting may read in clear.")
    sealed: CompactJWE = Field(
        description="Compact JWE to the referral service intake key holding the referral's "
        "identifying part (child, guardians, referring person, free text)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pre_id": "pre-76540",
                    "institution_id": "ecole-jules-ferry",
                    "external_ref": "ENT-2026-0042",
                    "parents_informed": True,
                    "parents_agree": True,
                    "facts": {
                        "age_years": 8,
                        "sex": "male",
                        "school_level": "ce2",
                        "lives_in_qpv": "yes",
                        "source_category": "school",
                        "reason_categories": ["learning_difficulties", "behaviour"],
                        "axes": ["schooling", "wellbeing"],
                    },
                    "sealed": "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.AAAA.BBBB.CCCC.DDDD",
                }
            ]
        },
        validate_by_name=True,
        serialize_by_alias=True,
    )
