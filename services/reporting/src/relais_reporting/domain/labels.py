"""French labels of the codes shown in indicators (the wire carries English codes)."""

from __future__ import annotations

SOURCE = {
    "school": "Établissement scolaire",
    "social_service": "Service social",
    "health": "Santé",
    "association": "Association",
    "family": "Famille",
    "other": "Autre",
}
REASON = {
    "learning_difficulties": "Difficultés d'apprentissage",
    "school_absenteeism": "Absentéisme scolaire",
    "behaviour": "Comportement",
    "language": "Langage",
    "physical_health": "Santé physique",
    "mental_health": "Santé mentale",
    "speech": "Parole, orthophonie",
    "psychomotor": "Psychomotricité",
    "parenting_support": "Soutien à la parentalité",
    "family_situation": "Situation familiale",
    "social_isolation": "Isolement social",
    "leisure_access": "Accès aux loisirs",
    "other": "Autre",
}
AXIS = {
    "schooling": "Scolarité",
    "health": "Santé",
    "parenting": "Parentalité",
    "wellbeing": "Épanouissement",
}
AGE_BAND = {"2-5": "2-5 ans", "6-10": "6-10 ans", "11-16": "11-16 ans", "unknown": "Âge inconnu"}
SEX = {"female": "Filles", "male": "Garçons", "unknown": "Non renseigné"}
QPV = {"yes": "En QPV", "no": "Hors QPV", "unknown": "Non renseigné"}
PARTNER = {
    "cmpp": "CMPP",
    "cmp": "CMP",
    "speech_therapist": "Orthophoniste",
    "psychomotor_therapist": "Psychomotricien·ne",
    "psychologist": "Psychologue",
    "family_guidance": "Guidance familiale",
    "pmi": "PMI",
    "social_service": "Service social",
    "child_protection": "Aide sociale à l'enfance",
    "school_services": "Services de l'Éducation nationale",
    "sports_association": "Association sportive",
    "cultural_association": "Association culturelle",
    "clas": "CLAS",
    "other": "Autre",
}
EXIT = {
    "objectives_met": "Objectifs atteints",
    "relay_to_ordinary_services": "Relais vers le droit commun",
    "family_moved": "Déménagement de la famille",
    "consent_withdrawn": "Retrait du consentement",
    "age_limit": "Limite d'âge",
    "other": "Autre",
}
DURATION_BAND = {
    "lt6": "Moins de 6 mois",
    "6-12": "6 à 12 mois",
    "12-18": "12 à 18 mois",
    "ge18": "18 mois et plus",
}
FOLLOWUP = {"done": "Réalisés", "not_done": "Non réalisés"}
