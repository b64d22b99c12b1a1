"""French labels of the codes events carry. Plain words, no jargon where it can be avoided."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from relais_contracts import labels as contract_labels
from relais_contracts.labels import in_sentence_table
from relais_contracts.types import (
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

#: A referral the child's erasure overtook ends ``declined`` with this reason: the review
#: never took place, so it must not read as the team's refusal (ADR 0007).
SUBJECT_ERASED = "subject_erased"


def status_label(status: str, reason: str | None = None) -> str:
    """The status as the sender reads it; an erased referral was closed, not refused."""
    if status == ReferralStatus.DECLINED and reason == SUBJECT_ERASED:
        return "close sans examen, ses informations ayant été effacées"
    return label(STATUS_LABELS, status)


#: The contract's shared labels, as they read inside a sentence.
AXIS_LABELS = in_sentence_table(contract_labels.AXIS)

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

HANDOVER_CANCEL_LABELS = in_sentence_table(contract_labels.HANDOVER_CANCEL_REASON)


def label(table: Mapping[str, str], code: str | None) -> str:
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
    # Decline reasons of the team review, then exit reasons of a parcours (both "other").
    **in_sentence_table(contract_labels.DECLINE_REASON),
    **in_sentence_table(contract_labels.EXIT_REASON),
    # A referral the child's erasure overtook: true whatever the erasure's reason, and it
    # says nothing of other referrals or of what the PRE knew of the child.
    SUBJECT_ERASED: "les informations de cette orientation ont été effacées, conformément "
    "aux règles de protection des données ; l'équipe du PRE ne l'examinera pas",
}


# --- a referral.submit command refused (referral.submit_rejected) ------------------------

REJECTION_LABELS: dict[str, str] = {
    "invalid_json": "le message n'est pas du JSON valide",
    "invalid_envelope": "l'enveloppe CloudEvents du message n'est pas valide",
    "schema_violation": "le message ne respecte pas le schéma de la commande referral.submit",
    "unknown_type": "ce type de message n'est pas accepté sur cette interface",
    "invalid_referral": "la fiche de liaison contient des erreurs",
    "parents_agreement_required": "l'accord des parents est nécessaire pour orienter vers le PRE",
    "institution_mismatch": "l'établissement indiqué dans la fiche n'est pas l'expéditeur",
    "pre_mismatch": "le PRE indiqué dans la fiche n'est pas celui du message",
    "sealed_unreadable": "la partie chiffrée (identité) ne peut pas être lue",
    "intake_key_missing": "la clé de chiffrement utilisée n'est pas celle du PRE",
    "institution_not_registered": "votre établissement n'est pas enregistré auprès de ce PRE",
    "institution_inactive": "votre établissement n'est plus habilité à orienter vers ce PRE",
    "pre_unknown": "ce PRE n'est pas ouvert aux orientations sur Relais",
    "pre_not_configured": "ce PRE n'est pas encore prêt à recevoir des orientations",
    "idempotency_key_reused": "cette référence a déjà servi pour une autre fiche",
}

#: Fields of a fiche de liaison, by path; ``*`` stands for a position in a list.
FIELD_LABELS: dict[str, str] = {
    "": "la fiche",
    "pre_id": "le PRE",
    "institution_id": "l'établissement",
    "external_ref": "votre référence",
    "sealed": "la partie chiffrée",
    "child": "l'enfant",
    "child.first_name": "le prénom de l'enfant",
    "child.last_name": "le nom de l'enfant",
    "child.birth_date": "la date de naissance de l'enfant",
    "child.sex": "le sexe de l'enfant",
    "child.school_name": "l'école de l'enfant",
    "child.school_uai": "le code UAI de l'école",
    "child.school_level": "le niveau scolaire de l'enfant",
    "child.lives_in_qpv": "le quartier prioritaire (QPV)",
    "guardians": "les responsables de l'enfant",
    "guardians.*": "le responsable {n}",
    "guardians.*.first_name": "le prénom du responsable {n}",
    "guardians.*.last_name": "le nom du responsable {n}",
    "guardians.*.relationship": "le lien avec l'enfant du responsable {n}",
    "guardians.*.parental_authority": "l'autorité parentale du responsable {n}",
    "guardians.*.phone": "le téléphone du responsable {n}",
    "guardians.*.email": "l'adresse e-mail du responsable {n}",
    "guardians.*.address": "l'adresse du responsable {n}",
    "guardians.*.languages": "les langues du responsable {n}",
    "guardians.*.interpreter_needed": "le besoin d'interprète du responsable {n}",
    "referrer": "la personne qui oriente",
    "referrer.name": "le nom de la personne qui oriente",
    "referrer.role": "la fonction de la personne qui oriente",
    "referrer.phone": "le téléphone de la personne qui oriente",
    "referrer.email": "l'adresse e-mail de la personne qui oriente",
    "reasons": "les motifs",
    "reasons.categories": "les catégories de motifs",
    "reasons.description": "la description de la situation",
    "axes": "les axes d'accompagnement",
    "parents_informed": "l'information des parents",
    "parents_informed_on": "la date d'information des parents",
    "parents_agree": "l'accord des parents",
}

#: What is wrong with a field: our own rule codes and the common built-in ones.
FIELD_ERROR_LABELS: dict[str, str] = {
    "missing": "manquant",
    "extra_forbidden": "non prévu",
    "date_in_future": "date dans le futur",
    "age_out_of_range": "âge hors de la tranche du PRE",
    "phone_invalid": "numéro invalide",
    "email_invalid": "adresse invalide",
    "uai_invalid": "code UAI invalide",
    "siret_invalid": "numéro SIRET invalide",
    "language_invalid": "code de langue invalide",
    "referrer_contact_required": "téléphone ou e-mail nécessaire",
    "guardian_contact_required": "un moyen de joindre la famille est nécessaire",
    "parents_not_informed": "les parents doivent avoir été informés",
    "enum": "valeur non prévue",
    "literal_error": "valeur non prévue",
    "string_too_short": "vide ou trop court",
    "string_too_long": "trop long",
    "too_short": "trop peu d'éléments",
    "too_long": "trop d'éléments",
    "date_from_datetime_parsing": "date invalide",
    "date_parsing": "date invalide",
    "date_type": "date invalide",
    "bool_type": "oui/non attendu",
    "bool_parsing": "oui/non attendu",
    "string_type": "texte attendu",
    "list_type": "liste attendue",
    "value_error": "valeur invalide",
}


def rejected_field(entry: str) -> str:
    """``guardians.0.phone:phone_invalid`` → ``le téléphone du responsable 1 (numéro invalide)``.

    A path without a label stays as sent (the sender's software knows it); never a value.
    """
    path, _, code = entry.partition(":")
    positions = [int(p) for p in path.split(".") if p.isdigit()]
    pattern = ".".join("*" if p.isdigit() else p for p in path.split(".")) if path else ""
    name = FIELD_LABELS.get(pattern)
    if name is not None and positions:
        name = name.format(n=positions[0] + 1)
    name = name or path
    return f"{name} ({label(FIELD_ERROR_LABELS, code)})" if code else name
