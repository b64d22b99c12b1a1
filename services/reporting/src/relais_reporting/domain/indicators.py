"""Indicator definitions (one place) and small-cell suppression."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    definition: str


NEW_REFERRALS = Indicator(
    key="new_referrals",
    label="Nouvelles orientations",
    definition="Nombre d'orientations reçues par le PRE pendant l'année scolaire "
    "(du 1er septembre au 31 août), quelle que soit leur issue.",
)


def suppress(value: int, threshold: int) -> int | None:
    """A count below ``threshold`` (but not zero) could single out a child: withhold it."""
    return None if 0 < value < threshold else value
