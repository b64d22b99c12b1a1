"""French labels of the codes the APIs use, worded for the people filling the forms.

The wire carries English codes (relais_contracts.types); an unknown code (a newer
contract) shows as itself rather than breaking a page.
"""

from __future__ import annotations

from typing import Final

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
REASON: Final = (
    ("learning_difficulties", "Difficultés d'apprentissage"),
    ("school_absenteeism", "Absences à l'école"),
    ("behaviour", "Comportement"),
    ("language", "Langue, compréhension du français"),
    ("physical_health", "Santé physique"),
    ("mental_health", "Santé psychique, mal-être"),
    ("speech", "Parole, langage oral"),
    ("psychomotor", "Psychomotricité"),
    ("parenting_support", "Soutien aux parents"),
    ("family_situation", "Situation familiale"),
    ("social_isolation", "Isolement"),
    ("leisure_access", "Accès aux loisirs, au sport, à la culture"),
    ("other", "Autre"),
)
AXIS: Final = (
    ("schooling", "Scolarité"),
    ("health", "Santé"),
    ("parenting", "Parentalité"),
    ("wellbeing", "Épanouissement (loisirs, sport, culture)"),
)
DECLINE_REASON: Final = (
    ("outside_territory", "Hors du territoire du PRE"),
    ("outside_age_range", "Hors de la tranche d'âge du PRE"),
    ("family_refused", "La famille n'a pas donné son accord"),
    ("family_unreachable", "La famille n'a pas pu être jointe"),
    ("already_supported", "Déjà accompagné par ailleurs"),
    ("needs_outside_scope", "Besoins hors du champ du PRE"),
    ("insufficient_information", "Informations insuffisantes"),
    ("other", "Autre motif"),
)

#: A refusal the API gives without a field, shown beside the field it is about.
CODE_FIELD: Final = {"parents_agreement_required": "parents_agree"}


def label(table: dict[str, str] | tuple[tuple[str, str], ...], code: str | None) -> str:
    if code is None:
        return ""
    mapping = table if isinstance(table, dict) else dict(table)
    return mapping.get(code, code.replace("_", " "))
