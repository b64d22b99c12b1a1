"""Rules of the individual plan."""

from __future__ import annotations

from datetime import date


def dates_ordered(starts_on: date | None, ends_on: date | None) -> bool:
    """An action cannot end before it starts (either date may be unknown)."""
    return starts_on is None or ends_on is None or starts_on <= ends_on
