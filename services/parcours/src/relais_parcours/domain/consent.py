"""Consent rules: what a consent in force allows to share with which partner (secret partagé)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from relais_contracts.types import DataCategory, ReasonCategory
from relais_parcours.domain.dates import FieldRefused

if TYPE_CHECKING:
    from relais_parcours.domain.handover import Handover


def in_force(consent: Any, today: date) -> bool:
    """Active and not past its last valid day."""
    if consent is None or consent["status"] != "active":
        return False
    valid_until = consent["valid_until"]
    return valid_until is None or today <= valid_until


def refuse_ended(valid_until: date | None, today: date) -> None:
    """A new consent whose last valid day is already past would replace the consent in force
    with one that is not, cutting every sharing: refused, naming ``valid_until``."""
    if valid_until is not None and valid_until < today:
        raise FieldRefused(
            "valid_until",
            "valid_until_past",
            "La date de fin de validité est déjà passée : ce consentement ne serait pas en "
            "vigueur.",
        )


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


class Row(Protocol):
    """A stored row as the repositories return it (asyncpg's Record, a dict in tests)."""

    def __getitem__(self, key: str) -> Any: ...


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"  # a newer consent replaced it
    WITHDRAWN = "withdrawn"  # a guardian who gave it took it back
    EXPIRED = "expired"  # past its last valid day


class UnknownGuardianError(Exception):
    """The withdrawal names no guardian who gave the consent."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__("guardian_unknown")
        self.labels = labels


class ConsentEndedError(Exception):
    """The consent is no longer in force: nothing to withdraw."""


def guardian_label(guardians: Sequence[Mapping[str, Any]], named: str) -> str | None:
    """The consent's own label for the guardian named (case and spacing aside), if any."""
    wanted = " ".join(named.split()).casefold()
    for guardian in guardians:
        if " ".join(str(guardian["label"]).split()).casefold() == wanted:
            return str(guardian["label"])
    return None


@dataclass(frozen=True)
class Consent:
    """The family's consent to share (secret partagé): with whom, what, until when."""

    id: uuid.UUID
    situation_id: uuid.UUID
    status: ConsentStatus
    scope: tuple[Mapping[str, Any], ...]
    valid_until: date | None = None
    guardians: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, row: Row) -> Consent:
        return cls(
            id=row["id"],
            situation_id=row["situation_id"],
            status=ConsentStatus(row["status"]),
            scope=tuple(row["scope"]),
            valid_until=row["valid_until"],
            guardians=tuple(row["guardians"] or ()),
        )

    def in_force(self, today: date) -> bool:
        return self.status is ConsentStatus.ACTIVE and (
            self.valid_until is None or today <= self.valid_until
        )

    def covers(self, handover: Handover, category_of: Callable[[str], str]) -> bool:
        """Whether this consent still allows everything the handover shares with its partner
        (``category_of``: a partner's category in the PRE's directory)."""
        category = category_of(handover.partner_id)
        return names_partner(self.scope, handover.partner_id, category) and (
            handover.data_categories
            <= allowed_categories(self.scope, handover.partner_id, category)
        )

    def uncovered(
        self, handovers: Iterable[Handover], category_of: Callable[[str], str]
    ) -> list[Handover]:
        """The open handovers a new consent cancels: those its scope no longer covers."""
        return [h for h in handovers if h.is_open and not self.covers(h, category_of)]

    def withdrawn_by(self, named: str, handovers: Iterable[Handover]) -> tuple[str, list[Handover]]:
        """A guardian who gave this consent takes it back: their label as the consent has it,
        and the handovers the withdrawal cancels (every open one: all sharing stops)."""
        if self.status is not ConsentStatus.ACTIVE:
            raise ConsentEndedError(self.status.value)
        label = guardian_label(self.guardians, named)
        if label is None:
            raise UnknownGuardianError([str(g["label"]) for g in self.guardians])
        return label, [h for h in handovers if h.is_open]


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
