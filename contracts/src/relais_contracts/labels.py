"""French labels of the contract's codes (``relais_contracts.types``), in one place.

The wire carries English codes; the web pages, the notifications' texts and reporting's
indicators show these labels. Each table keeps the codes' order (forms and indicator cells
follow it) and capitalises its labels as a heading or a form choice does; ``in_sentence``
gives the form that goes inside a sentence. An unknown code (from a newer contract) shows
as itself (``label``) rather than breaking a page or a message.

Where one audience needs its own voice (a partner's « Hors de notre champ », a sender's
status timeline), the service keeps its own words; these are the words all share.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from relais_contracts.types import (
    Axis,
    ConsentForm,
    DataCategory,
    DeadlineKind,
    DeclineReason,
    DeliveryChannel,
    DeliveryFailure,
    ErasureReason,
    ExitReason,
    FollowupOutcome,
    HandoverCancelReason,
    HandoverDeclineReason,
    HandoverOutcome,
    PartnerCategory,
    ReasonCategory,
    ReferralStatus,
    ReviewDecision,
    SchoolLevel,
    Sex,
    SituationStage,
    SourceCategory,
    TriState,
)

Labels = Mapping[str, str]


def _table(pairs: dict[str, str]) -> Labels:
    return MappingProxyType({str(code): text for code, text in pairs.items()})


AXIS: Final = _table(
    {
        Axis.SCHOOLING: "Scolarité",
        Axis.HEALTH: "Santé",
        Axis.PARENTING: "Parentalité",
        Axis.WELLBEING: "Épanouissement (loisirs, sport, culture)",
    }
)
SOURCE_CATEGORY: Final = _table(
    {
        SourceCategory.SCHOOL: "Établissement scolaire",
        SourceCategory.SOCIAL_SERVICE: "Service social",
        SourceCategory.HEALTH: "Santé",
        SourceCategory.ASSOCIATION: "Association",
        SourceCategory.FAMILY: "Famille",
        SourceCategory.OTHER: "Autre",
    }
)
REASON_CATEGORY: Final = _table(
    {
        ReasonCategory.LEARNING_DIFFICULTIES: "Difficultés d'apprentissage",
        ReasonCategory.SCHOOL_ABSENTEEISM: "Absences à l'école",
        ReasonCategory.BEHAVIOUR: "Comportement",
        ReasonCategory.LANGUAGE: "Langue, compréhension du français",
        ReasonCategory.PHYSICAL_HEALTH: "Santé physique",
        ReasonCategory.MENTAL_HEALTH: "Santé psychique, mal-être",
        ReasonCategory.SPEECH: "Parole, langage oral",
        ReasonCategory.PSYCHOMOTOR: "Psychomotricité",
        ReasonCategory.PARENTING_SUPPORT: "Soutien aux parents",
        ReasonCategory.FAMILY_SITUATION: "Situation familiale",
        ReasonCategory.SOCIAL_ISOLATION: "Isolement",
        ReasonCategory.LEISURE_ACCESS: "Accès aux loisirs, au sport, à la culture",
        ReasonCategory.OTHER: "Autre",
    }
)
PARTNER_CATEGORY: Final = _table(
    {
        PartnerCategory.CMPP: "CMPP",
        PartnerCategory.CMP: "CMP",
        PartnerCategory.SPEECH_THERAPIST: "Orthophoniste",
        PartnerCategory.PSYCHOMOTOR_THERAPIST: "Psychomotricien·ne",
        PartnerCategory.PSYCHOLOGIST: "Psychologue",
        PartnerCategory.FAMILY_GUIDANCE: "Guidance familiale",
        PartnerCategory.PMI: "PMI",
        PartnerCategory.SOCIAL_SERVICE: "Service social",
        PartnerCategory.CHILD_PROTECTION: "Aide sociale à l'enfance",
        PartnerCategory.SCHOOL_SERVICES: "Services de l'Éducation nationale",
        PartnerCategory.SPORTS_ASSOCIATION: "Association sportive",
        PartnerCategory.CULTURAL_ASSOCIATION: "Association culturelle",
        PartnerCategory.CLAS: "CLAS (accompagnement à la scolarité)",
        PartnerCategory.OTHER: "Autre",
    }
)
DECLINE_REASON: Final = _table(
    {
        DeclineReason.OUTSIDE_TERRITORY: "Hors du territoire du PRE",
        DeclineReason.OUTSIDE_AGE_RANGE: "Hors de la tranche d'âge du PRE",
        DeclineReason.FAMILY_REFUSED: "La famille n'a pas donné son accord",
        DeclineReason.FAMILY_UNREACHABLE: "La famille n'a pas pu être jointe",
        DeclineReason.ALREADY_SUPPORTED: "Déjà accompagné par ailleurs",
        DeclineReason.NEEDS_OUTSIDE_SCOPE: "Besoins hors du champ du PRE",
        DeclineReason.INSUFFICIENT_INFORMATION: "Informations insuffisantes",
        DeclineReason.OTHER: "Autre motif",
    }
)
EXIT_REASON: Final = _table(
    {
        ExitReason.OBJECTIVES_MET: "Objectifs atteints",
        ExitReason.RELAY_TO_ORDINARY_SERVICES: "Relais vers le droit commun",
        ExitReason.FAMILY_MOVED: "La famille a déménagé",
        ExitReason.CONSENT_WITHDRAWN: "La famille a retiré son accord",
        ExitReason.AGE_LIMIT: "Limite d'âge atteinte",
        ExitReason.OTHER: "Autre motif",
    }
)
HANDOVER_CANCEL_REASON: Final = _table(
    {
        HandoverCancelReason.CONSENT_WITHDRAWN: "Accord de la famille retiré",
        HandoverCancelReason.CONSENT_EXPIRED: "Accord de la famille arrivé à échéance",
        HandoverCancelReason.PARCOURS_CLOSED: "Parcours terminé",
        HandoverCancelReason.REFERENT_REQUEST: "À la demande du ou de la référent·e",
        HandoverCancelReason.FAMILY_REQUEST: "À la demande de la famille",
        HandoverCancelReason.OTHER: "Autre motif",
    }
)


def label(table: Labels, code: str | None) -> str:
    """The label of ``code``; the code itself (underscores as spaces) if unknown; "" for None."""
    if code is None:
        return ""
    return table.get(code, code.replace("_", " "))


def in_sentence(text: str) -> str:
    """The label as it reads inside a sentence: « Santé » → « santé », « CMPP » stays."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def in_sentence_table(table: Labels) -> Labels:
    """Every label of ``table`` as it reads inside a sentence."""
    return MappingProxyType({code: in_sentence(text) for code, text in table.items()})


#: What each code type of the contract is, in French. The HTTP APIs' OpenAPI documents show
#: these (the runtime puts them in place of the English docstrings); the event schemas and
#: the AsyncAPI document keep the English of the rest of the event contract (ADR 0023).
TYPE_DESCRIPTIONS: Final[Mapping[type[StrEnum], str]] = MappingProxyType(
    {
        Axis: "Les quatre axes du plan individuel d'un PRE.",
        SourceCategory: "Le type d'établissement qui a orienté l'enfant (statistiques : "
        "origine des orientations).",
        ReasonCategory: "Les catégories de difficultés observées, comme dans une fiche de liaison.",
        Sex: "Le sexe de l'enfant.",
        TriState: "Oui, non, ou inconnu de la personne qui répond.",
        SchoolLevel: "Le niveau scolaire, de la petite section à la troisième (puis la "
        "seconde, ou autre au-delà).",
        ReferralStatus: "Ce que l'émetteur d'une orientation peut en voir.",
        PartnerCategory: "Le type d'organisme à qui une action est confiée ou vers qui une "
        "situation est réorientée. Les statistiques comptent les relais et les délais par "
        "type ; le partenaire lui-même a pour identifiant un slug.",
        ReviewDecision: "La décision de l'équipe pluridisciplinaire de soutien (EPS) sur une "
        "situation orientée.",
        DeclineReason: "Pourquoi l'équipe pluridisciplinaire a refusé une situation "
        "(renvoyée à l'établissement qui l'avait orientée).",
        SituationStage: "Où en est une situation, pour autant qu'un établissement qui l'a "
        "orientée puisse le savoir.",
        ConsentForm: "Comment l'accord de la famille a été recueilli.",
        DataCategory: "Les catégories d'informations qu'un consentement permet de partager "
        "avec un partenaire (secret partagé).",
        HandoverDeclineReason: "Pourquoi un partenaire a refusé un relais.",
        HandoverOutcome: "Comment une action confiée s'est terminée, selon le partenaire.",
        HandoverCancelReason: "Pourquoi le PRE a annulé un relais avant son terme.",
        ExitReason: "Pourquoi un parcours a pris fin. Toujours un code : jamais de texte "
        "libre dans les messages.",
        FollowupOutcome: "Ce que le suivi avec la famille, six mois après la sortie, a constaté.",
        DeadlineKind: "Quelle échéance est dépassée.",
        ErasureReason: "Pourquoi toutes les données d'une personne sont effacées.",
        DeliveryChannel: "Comment les notifications parviennent à un organisme.",
        DeliveryFailure: "Pourquoi une tentative d'envoi a échoué. Un code, jamais le texte "
        "d'erreur du destinataire.",
    }
)
