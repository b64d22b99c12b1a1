"""French labels of the codes shown in indicators (the wire carries English codes)."""

from __future__ import annotations

from relais_contracts import labels as contract_labels

# The contract's codes: their labels live with the contract (shared with the web pages).
SOURCE = contract_labels.SOURCE_CATEGORY
REASON = contract_labels.REASON_CATEGORY
AXIS = contract_labels.AXIS
AGE_BAND = {"2-5": "2-5 ans", "6-10": "6-10 ans", "11-16": "11-16 ans", "unknown": "Âge inconnu"}
SEX = {"female": "Filles", "male": "Garçons", "unknown": "Non renseigné"}
QPV = {"yes": "En QPV", "no": "Hors QPV", "unknown": "Non renseigné"}
PARTNER = contract_labels.PARTNER_CATEGORY
EXIT = contract_labels.EXIT_REASON
DURATION_BAND = {
    "lt6": "Moins de 6 mois",
    "6-12": "6 à 12 mois",
    "12-18": "12 à 18 mois",
    "ge18": "18 mois et plus",
}
FOLLOWUP = {"done": "Réalisés", "not_done": "Non réalisés"}
