"""French labels of the codes events carry. Plain words, no jargon where it can be avoided."""

from __future__ import annotations

from datetime import date

from relais_contracts.types import (
    Axis,
    DeclineReason,
    ExitReason,
    HandoverCancelReason,
    HandoverDeclineReason,
    HandoverOutcome,
    ReferralStatus,
)

STATUS_LABELS: dict[str, str] = {
    ReferralStatus.RECEIVED: "reçue par le PRE",
    ReferralStatus.UNDER_REVIEW: "en cours d'examen par l'équipe du PRE",
    ReferralStatus.TAKEN_UP: "prise en charge : un parcours est ouvert",
    ReferralStatus.REDIRECTED: "réorientée vers un autre service",
    ReferralStatus.DECLINED: "non retenue par l'équipe du PRE",
    ReferralStatus.CLOSED: "parcours terminé",
    ReferralStatus.WITHDRAWN: "retirée",
}

AXIS_LABELS: dict[str, str] = {
    Axis.SCHOOLING: "scolarité",
    Axis.HEALTH: "santé",
    Axis.PARENTING: "parentalité",
    Axis.WELLBEING: "épanouissement",
}

HANDOVER_DECLINE_LABELS: dict[str, str] = {
    HandoverDeclineReason.NO_CAPACITY: "plus de place disponible",
    HandoverDeclineReason.OUTSIDE_SCOPE: "hors du champ du partenaire",
    HandoverDeclineReason.OUTSIDE_TERRITORY: "hors du territoire du partenaire",
    HandoverDeclineReason.ALREADY_FOLLOWED: "déjà suivi par ailleurs",
    HandoverDeclineReason.INSUFFICIENT_INFORMATION: "informations insuffisantes",
    HandoverDeclineReason.OTHER: "autre motif",
}

HANDOVER_OUTCOME_LABELS: dict[str, str] = {
    HandoverOutcome.ACHIEVED: "objectif atteint",
    HandoverOutcome.PARTIALLY_ACHIEVED: "objectif en partie atteint",
    HandoverOutcome.NOT_ACHIEVED: "objectif non atteint",
    HandoverOutcome.STOPPED_BY_FAMILY: "arrêtée par la famille",
    HandoverOutcome.CONTINUED_BY_PARTNER: "poursuivie par le partenaire (droit commun)",
}

HANDOVER_CANCEL_LABELS: dict[str, str] = {
    HandoverCancelReason.CONSENT_WITHDRAWN: "accord de la famille retiré",
    HandoverCancelReason.CONSENT_EXPIRED: "accord de la famille arrivé à échéance",
    HandoverCancelReason.PARCOURS_CLOSED: "parcours terminé",
    HandoverCancelReason.REFERENT_REQUEST: "à la demande du ou de la référent·e",
    HandoverCancelReason.FAMILY_REQUEST: "à la demande de la famille",
    HandoverCancelReason.OTHER: "autre motif",
}


def label(table: dict[str, str], code: str | None) -> str:
    """The label of a code; the code itself if a newer contract added one we don't know."""
    if code is None:
        return ""
    return table.get(code, code.replace("_", " "))


def french_date(value: date | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")


REASON_LABELS: dict[str, str] = {
    # Decline reasons of the team review.
    DeclineReason.OUTSIDE_TERRITORY: "hors du territoire du PRE",
    DeclineReason.OUTSIDE_AGE_RANGE: "hors de la tranche d'âge du PRE",
    DeclineReason.FAMILY_REFUSED: "la famille n'a pas donné son accord",
    DeclineReason.FAMILY_UNREACHABLE: "la famille n'a pas pu être jointe",
    DeclineReason.ALREADY_SUPPORTED: "déjà accompagné par ailleurs",
    DeclineReason.NEEDS_OUTSIDE_SCOPE: "besoins hors du champ du PRE",
    DeclineReason.INSUFFICIENT_INFORMATION: "informations insuffisantes",
    # Exit reasons of a parcours.
    ExitReason.OBJECTIVES_MET: "objectifs atteints",
    ExitReason.RELAY_TO_ORDINARY_SERVICES: "relais vers le droit commun",
    ExitReason.FAMILY_MOVED: "la famille a déménagé",
    ExitReason.CONSENT_WITHDRAWN: "accord de la famille retiré",
    ExitReason.AGE_LIMIT: "limite d'âge atteinte",
    "other": "autre motif",
}
