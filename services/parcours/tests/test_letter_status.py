"""The status of a family's access letter, as the team sees it (the rule, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relais_parcours.service.family_desk import letter_status

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def _letter(**changes: object) -> dict[str, object]:
    return {"revoked_at": None, "used_at": None, "expires_at": NOW + timedelta(days=1)} | changes


def test_a_letter_is_usable_until_it_expires_then_expired() -> None:
    assert letter_status(_letter(), NOW) == "usable"
    assert letter_status(_letter(expires_at=NOW), NOW) == "expired"


def test_a_used_letter_stays_used_after_its_expiry() -> None:
    assert letter_status(_letter(used_at=NOW, expires_at=NOW - timedelta(days=1)), NOW) == "used"


def test_a_revoked_letter_is_revoked_whether_used_or_expired() -> None:
    gone = _letter(revoked_at=NOW, used_at=NOW, expires_at=NOW - timedelta(days=1))
    assert letter_status(gone, NOW) == "revoked"
