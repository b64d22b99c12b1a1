"""Shared value types of the wire contract: identifiers, enums and constrained strings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

#: Ids that appear in routing keys: lowercase slugs, no dots (a dot separates routing-key words).
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
]
#: A PRE id, e.g. ``pre-76540`` (``pre-`` + INSEE code of the town, or another slug).
PreId = Annotated[str, StringConstraints(pattern=r"^pre-[a-z0-9-]{1,59}$")]
#: A compact JWE (five base64url parts). Opaque to everyone but the holder of the private key.
CompactJWE = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        max_length=262_144,
    ),
]


class Axis(StrEnum):
    """The four axes of a PRE individual plan."""

    SCHOOLING = "schooling"  # scolarité
    HEALTH = "health"  # santé
    PARENTING = "parenting"  # parentalité
    WELLBEING = "wellbeing"  # épanouissement


class SourceCategory(StrEnum):
    """What kind of institution referred the child (reporting: sources of referral)."""

    SCHOOL = "school"
    SOCIAL_SERVICE = "social_service"
    HEALTH = "health"
    ASSOCIATION = "association"
    FAMILY = "family"
    OTHER = "other"


class ReasonCategory(StrEnum):
    """Categories of difficulties observed, as in a *fiche de liaison*."""

    LEARNING_DIFFICULTIES = "learning_difficulties"
    SCHOOL_ABSENTEEISM = "school_absenteeism"
    BEHAVIOUR = "behaviour"
    LANGUAGE = "language"
    PHYSICAL_HEALTH = "physical_health"
    MENTAL_HEALTH = "mental_health"
    SPEECH = "speech"
    PSYCHOMOTOR = "psychomotor"
    PARENTING_SUPPORT = "parenting_support"
    FAMILY_SITUATION = "family_situation"
    SOCIAL_ISOLATION = "social_isolation"
    LEISURE_ACCESS = "leisure_access"
    OTHER = "other"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class TriState(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class SchoolLevel(StrEnum):
    """French school levels from *petite section* to *troisième* (and beyond 16 for lycée)."""

    NOT_SCHOOLED = "not_schooled"
    PS = "ps"
    MS = "ms"
    GS = "gs"
    CP = "cp"
    CE1 = "ce1"
    CE2 = "ce2"
    CM1 = "cm1"
    CM2 = "cm2"
    SIXIEME = "6e"
    CINQUIEME = "5e"
    QUATRIEME = "4e"
    TROISIEME = "3e"
    SECONDE = "2nde"
    OTHER = "other"


class ReferralStatus(StrEnum):
    """What the sender of a referral may see of it."""

    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    TAKEN_UP = "taken_up"
    REDIRECTED = "redirected"
    DECLINED = "declined"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
