"""Consent rules: what a consent in force allows to share with which partner (secret partagé)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from relais_contracts.types import DataCategory, ReasonCategory


def in_force(consent: Any, today: date) -> bool:
    """Active and not past its last valid day."""
    if consent is None or consent["status"] != "active":
        return False
    valid_until = consent["valid_until"]
    return valid_until is None or today <= valid_until


def allowed_categories(
    scope: Iterable[Mapping[str, Any]], partner_id: str, partner_category: str
) -> set[str]:
    """Data categories a partner may receive: its own entry plus its category's entry."""
    allowed: set[str] = set()
    for entry in scope:
        if entry.get("partner_id") == partner_id or (
            entry.get("partner_category") is not None
            and entry.get("partner_category") == partner_category
        ):
            allowed.update(entry["data_categories"])
    return allowed


def names_partner(
    scope: Iterable[Mapping[str, Any]], partner_id: str, partner_category: str
) -> bool:
    """Whether the consent lets this partner receive anything at all.

    Without it, even a handover with no data category would tell the partner that the
    child is followed, with the référent's message: that is sharing too.
    """
    return bool(allowed_categories(scope, partner_id, partner_category))


def missing_categories(
    scope: Iterable[Mapping[str, Any]],
    partner_id: str,
    partner_category: str,
    wanted: Iterable[str],
) -> list[str]:
    """What a sharing would disclose beyond the consent (empty: the sharing is covered)."""
    allowed = allowed_categories(scope, partner_id, partner_category)
    return sorted(set(wanted) - allowed)


#: Which reasons of a referral each data category discloses.
REASONS_BY_CATEGORY: dict[DataCategory, frozenset[ReasonCategory]] = {
    DataCategory.SCHOOLING: frozenset(
        {
            ReasonCategory.LEARNING_DIFFICULTIES,
            ReasonCategory.SCHOOL_ABSENTEEISM,
            ReasonCategory.BEHAVIOUR,
            ReasonCategory.LANGUAGE,
        }
    ),
    DataCategory.HEALTH: frozenset(
        {
            ReasonCategory.PHYSICAL_HEALTH,
            ReasonCategory.MENTAL_HEALTH,
            ReasonCategory.SPEECH,
            ReasonCategory.PSYCHOMOTOR,
        }
    ),
    DataCategory.FAMILY_SITUATION: frozenset(
        {
            ReasonCategory.PARENTING_SUPPORT,
            ReasonCategory.FAMILY_SITUATION,
            ReasonCategory.SOCIAL_ISOLATION,
        }
    ),
}

CATEGORY_LABELS = {
    DataCategory.IDENTITY_AND_CONTACT: "identité et coordonnées",
    DataCategory.SCHOOLING: "scolarité",
    DataCategory.HEALTH: "santé",
    DataCategory.FAMILY_SITUATION: "situation familiale",
    DataCategory.PLAN_AND_PROGRESS: "plan et avancement",
}


def labels(categories: Iterable[str]) -> str:
    return ", ".join(CATEGORY_LABELS[DataCategory(c)] for c in categories)
