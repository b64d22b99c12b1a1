"""French labels of the codes the APIs use, worded for the people filling the forms.

The wire carries English codes (relais_contracts.types); the labels of the codes the
services share live with the contract (relais_contracts.labels). An unknown code (a newer
contract) shows as itself rather than breaking a page.
"""

from __future__ import annotations

from typing import Final

from relais_contracts import labels as contract_labels

REFERRAL_STATUS: Final = {
    "received": "Reçue par le PRE",
    "under_review": "En cours d'examen par l'équipe du PRE",
    "taken_up": "Enfant pris en charge par le PRE",
    "redirected": "Réorientée vers un autre service",
    "declined": "Non retenue par l'équipe du PRE",
    "closed": "Parcours terminé",
    "withdrawn": "Retirée par votre établissement",
}
#: DSFR badge of each referral status (colour carries no meaning the text does not).
REFERRAL_BADGE: Final = {
    "received": "info",
    "under_review": "new",
    "taken_up": "success",
    "redirected": "warning",
    "declined": "warning",
    "closed": "",
    "withdrawn": "",
}
WITHDRAWABLE: Final = frozenset({"received", "under_review"})

SEX: Final = (("female", "Fille"), ("male", "Garçon"))
TRI_STATE: Final = (("yes", "Oui"), ("no", "Non"), ("unknown", "Je ne sais pas"))
SCHOOL_LEVEL: Final = (
    ("not_schooled", "Non scolarisé"),
    ("ps", "Petite section"),
    ("ms", "Moyenne section"),
    ("gs", "Grande section"),
    ("cp", "CP"),
    ("ce1", "CE1"),
    ("ce2", "CE2"),
    ("cm1", "CM1"),
    ("cm2", "CM2"),
    ("6e", "6e"),
    ("5e", "5e"),
    ("4e", "4e"),
    ("3e", "3e"),
    ("2nde", "2nde"),
    ("other", "Autre"),
)
RELATIONSHIP: Final = (
    ("mother", "Mère"),
    ("father", "Père"),
    ("legal_guardian", "Tuteur ou tutrice légale"),
    ("other", "Autre"),
)
REASON: Final = tuple(contract_labels.REASON_CATEGORY.items())
AXIS: Final = tuple(contract_labels.AXIS.items())
DECLINE_REASON: Final = tuple(contract_labels.DECLINE_REASON.items())

DECISION: Final = (
    ("take_up", "Prise en charge par le PRE"),
    ("redirect", "Réorientation vers un autre service"),
    ("decline", "Non retenue"),
)
PARTNER_CATEGORY: Final = tuple(contract_labels.PARTNER_CATEGORY.items())
STAGE: Final = {
    "awaiting_review": "À examiner en équipe",
    "in_parcours": "En parcours",
    "redirected": "Réorientée",
    "declined": "Non retenue",
    "closed": "Parcours terminé",
    "withdrawn": "Orientation retirée",
    "erased": "Données effacées",
}
SOURCE: Final = dict(contract_labels.SOURCE_CATEGORY)

#: A refusal the API gives without a field, shown beside the field it is about.
CODE_FIELD: Final = {
    "parents_agreement_required": "parents_agree",
    "caseload_full": "override_reason",
    "referent_already_assigned": "referent_id",
}


def label(table: dict[str, str] | tuple[tuple[str, str], ...], code: str | None) -> str:
    if code is None:
        return ""
    mapping = table if isinstance(table, dict) else dict(table)
    return mapping.get(code, code.replace("_", " "))


DATA_CATEGORY: Final = (
    ("identity_and_contact", "Identité et coordonnées de l'enfant et des parents"),
    ("schooling", "Scolarité"),
    ("health", "Santé"),
    ("family_situation", "Situation familiale"),
    ("plan_and_progress", "Plan d'accompagnement et avancement"),
)
CONSENT_FORM: Final = (
    ("signed", "Écrit et signé"),
    ("oral_witnessed", "Oral, devant un témoin"),
    ("electronic", "Électronique"),
)
CONSENT_STATUS: Final = {
    "active": "En vigueur",
    "superseded": "Remplacé par un nouvel accord",
    "withdrawn": "Retiré",
    "expired": "Arrivé à échéance",
}
OBJECTIVE_STATUS: Final = (("open", "En cours"), ("met", "Atteint"), ("abandoned", "Abandonné"))
ACTION_STATUS: Final = (
    ("planned", "Prévue"),
    ("in_progress", "En cours"),
    ("done", "Faite"),
    ("cancelled", "Annulée"),
)
HANDOVER_STATUS: Final = {
    "requested": "Demandé, en attente de réponse",
    "accepted": "Accepté",
    "declined": "Refusé",
    "waitlisted": "En liste d'attente",
    "completed": "Terminé",
    "cancelled": "Annulé",
}
HANDOVER_DECLINE: Final = (
    ("no_capacity", "Plus de place disponible"),
    ("outside_scope", "Hors de notre champ"),
    ("outside_territory", "Hors de notre territoire"),
    ("already_followed", "Déjà suivi par ailleurs"),
    ("insufficient_information", "Informations insuffisantes"),
    ("other", "Autre motif"),
)
HANDOVER_OUTCOME: Final = (
    ("achieved", "Objectif atteint"),
    ("partially_achieved", "Objectif en partie atteint"),
    ("not_achieved", "Objectif non atteint"),
    ("stopped_by_family", "Arrêté par la famille"),
    ("continued_by_partner", "Poursuivi par nous (droit commun)"),
)
HANDOVER_CANCEL: Final = dict(contract_labels.HANDOVER_CANCEL_REASON)
#: The form asks for the reason of "other" in a comment beside it.
EXIT_REASON: Final = tuple(
    (code, "Autre motif (à préciser)" if code == "other" else text)
    for code, text in contract_labels.EXIT_REASON.items()
)
FOLLOWUP_OUTCOME: Final = (
    ("stable", "Situation stable"),
    ("improved", "Situation améliorée"),
    ("new_difficulties", "Nouvelles difficultés"),
    ("new_referral_needed", "Une nouvelle orientation est nécessaire"),
    ("family_unreachable", "Famille injoignable"),
    ("family_declined", "La famille n'a pas souhaité d'entretien"),
)
