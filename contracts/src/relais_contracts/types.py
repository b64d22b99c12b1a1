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

#: A CloudEvents ``type`` of Relais: ``fr.relais.<domain>.<event>.v<major>``.
CeType = Annotated[
    str,
    StringConstraints(pattern=r"^fr\.relais\.[a-z_]+\.[a-z_]+\.v[0-9]+$", max_length=120),
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


class PartnerCategory(StrEnum):
    """Kind of organisation an action is handed over or a situation redirected to.

    Reporting counts handovers and waiting times by category; the partner's own id is a slug.
    """

    CMPP = "cmpp"  # centre médico-psycho-pédagogique
    CMP = "cmp"  # centre médico-psychologique
    SPEECH_THERAPIST = "speech_therapist"  # orthophoniste
    PSYCHOMOTOR_THERAPIST = "psychomotor_therapist"  # psychomotricien·ne
    PSYCHOLOGIST = "psychologist"
    FAMILY_GUIDANCE = "family_guidance"  # guidance familiale
    PMI = "pmi"  # protection maternelle et infantile
    SOCIAL_SERVICE = "social_service"  # service social départemental, CCAS
    CHILD_PROTECTION = "child_protection"  # aide sociale à l'enfance
    SCHOOL_SERVICES = "school_services"  # RASED, médecine et psychologues scolaires
    SPORTS_ASSOCIATION = "sports_association"
    CULTURAL_ASSOCIATION = "cultural_association"
    CLAS = "clas"  # contrat local d'accompagnement à la scolarité
    OTHER = "other"


class ReviewDecision(StrEnum):
    """Decision of the team review (EPS) on a referred situation."""

    TAKE_UP = "take_up"
    REDIRECT = "redirect"
    DECLINE = "decline"


class DeclineReason(StrEnum):
    """Why the team review declined a situation (sent back to the referring institution)."""

    OUTSIDE_TERRITORY = "outside_territory"
    OUTSIDE_AGE_RANGE = "outside_age_range"
    FAMILY_REFUSED = "family_refused"
    FAMILY_UNREACHABLE = "family_unreachable"
    ALREADY_SUPPORTED = "already_supported"
    NEEDS_OUTSIDE_SCOPE = "needs_outside_scope"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    OTHER = "other"


class SituationStage(StrEnum):
    """Where a situation stands, as far as a referring institution may know."""

    AWAITING_REVIEW = "awaiting_review"
    IN_PARCOURS = "in_parcours"


class ConsentForm(StrEnum):
    """How the family's agreement was recorded."""

    SIGNED = "signed"
    ORAL_WITNESSED = "oral_witnessed"
    ELECTRONIC = "electronic"


class DataCategory(StrEnum):
    """Categories of information a consent allows to share with a partner (secret partagé)."""

    IDENTITY_AND_CONTACT = "identity_and_contact"
    SCHOOLING = "schooling"
    HEALTH = "health"
    FAMILY_SITUATION = "family_situation"
    PLAN_AND_PROGRESS = "plan_and_progress"


class HandoverDeclineReason(StrEnum):
    """Why a partner declined a handover."""

    NO_CAPACITY = "no_capacity"
    OUTSIDE_SCOPE = "outside_scope"
    OUTSIDE_TERRITORY = "outside_territory"
    ALREADY_FOLLOWED = "already_followed"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    OTHER = "other"


class HandoverOutcome(StrEnum):
    """How a handed-over action ended, as the partner reports it."""

    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    NOT_ACHIEVED = "not_achieved"
    STOPPED_BY_FAMILY = "stopped_by_family"
    CONTINUED_BY_PARTNER = "continued_by_partner"  # the partner keeps following (droit commun)


class HandoverCancelReason(StrEnum):
    """Why a handover was cancelled by the PRE before it ended."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    PARCOURS_CLOSED = "parcours_closed"
    REFERENT_REQUEST = "referent_request"
    FAMILY_REQUEST = "family_request"
    OTHER = "other"


class ExitReason(StrEnum):
    """Why a parcours ended. Always a code: never free text on the wire."""

    OBJECTIVES_MET = "objectives_met"
    RELAY_TO_ORDINARY_SERVICES = "relay_to_ordinary_services"  # relais vers le droit commun
    FAMILY_MOVED = "family_moved"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    AGE_LIMIT = "age_limit"
    OTHER = "other"


class FollowupOutcome(StrEnum):
    """What the follow-up with the family six months after exit found."""

    STABLE = "stable"
    IMPROVED = "improved"
    NEW_DIFFICULTIES = "new_difficulties"
    NEW_REFERRAL_NEEDED = "new_referral_needed"
    FAMILY_UNREACHABLE = "family_unreachable"
    FAMILY_DECLINED = "family_declined"


class DeadlineKind(StrEnum):
    """Which deadline went by."""

    REVIEW = "review"  # a referred situation not reviewed in time
    HANDOVER_RESPONSE = "handover_response"  # a partner did not answer a handover in time
    FOLLOWUP = "followup"  # the six-month follow-up was not recorded in time
    FAMILY_REQUEST = "family_request"  # a family's correction/erasure request unanswered in a month


class ErasureReason(StrEnum):
    """Why every record about a subject is being erased."""

    RETENTION_PERIOD_ENDED = "retention_period_ended"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    CREATED_IN_ERROR = "created_in_error"
    OTHER = "other"


class DeliveryChannel(StrEnum):
    """How notifications reached an organisation."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    FEED = "feed"  # in-app feed
    AMQP = "amqp"  # the organisation's own queue deliver.<org_id>


class DeliveryFailure(StrEnum):
    """Why a delivery attempt failed. A code, never the remote error text."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    HTTP_ERROR = "http_error"
    REJECTED = "rejected"  # e.g. SMTP 5xx, signature refused
    INVALID_ENDPOINT = "invalid_endpoint"  # the endpoint answered 410 Gone
    ENDPOINT_DISABLED = "endpoint_disabled"  # given up: repeated failures disabled it
    ENDPOINT_DELETED = "endpoint_deleted"  # given up: its owner deleted it
    UNROUTABLE = "unroutable"  # AMQP: no queue bound for the organisation
    OTHER = "other"
