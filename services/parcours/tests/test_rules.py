"""Unit tests of the parcours rules and of the identity vault (no I/O besides a temp dir)."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from relais_parcours.adapters.vault import IdentityUnreadableError, IdentityVault, load_master_key
from relais_parcours.domain.consent import allowed_categories, in_force, missing_categories
from relais_parcours.domain.handover import partner_may
from relais_parcours.domain.review import caseload_allows
from relais_parcours.domain.situation import add_months, duration_warning

SCOPE = [
    {"partner_id": "cmpp-rouen", "data_categories": ["health"]},
    {"partner_category": "cmpp", "data_categories": ["identity_and_contact"]},
    {"partner_category": "clas", "data_categories": ["schooling"]},
]


def test_a_partner_may_receive_what_its_own_entry_and_its_category_allow() -> None:
    assert allowed_categories(SCOPE, "cmpp-rouen", "cmpp") == {"health", "identity_and_contact"}
    assert allowed_categories(SCOPE, "cmpp-elbeuf", "cmpp") == {"identity_and_contact"}
    assert allowed_categories(SCOPE, "us-foot", "sports_association") == set()


def test_sharing_beyond_the_scope_names_what_is_missing() -> None:
    assert missing_categories(SCOPE, "cmpp-elbeuf", "cmpp", ["health", "identity_and_contact"]) == [
        "health"
    ]
    assert missing_categories(SCOPE, "cmpp-rouen", "cmpp", ["health"]) == []


def test_a_consent_is_in_force_while_active_and_up_to_its_last_day() -> None:
    active = {"status": "active", "valid_until": date(2027, 1, 31)}
    assert in_force(active, date(2027, 1, 31))
    assert not in_force(active, date(2027, 2, 1))
    assert not in_force({"status": "withdrawn", "valid_until": None}, date(2027, 1, 1))
    assert not in_force(None, date(2027, 1, 1))


def test_a_partner_answers_only_from_an_open_handover() -> None:
    assert partner_may("requested", "accepted")
    assert partner_may("waitlisted", "accepted")
    assert partner_may("accepted", "completed")
    assert not partner_may("requested", "completed")
    assert not partner_may("declined", "accepted")
    assert not partner_may("cancelled", "accepted")


def test_the_caseload_limit_counts_the_situation_being_added() -> None:
    assert caseload_allows(9, 10)
    assert not caseload_allows(10, 10)


def test_follow_up_dates_fall_six_months_later_even_at_month_ends() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 11, 23), 6) == date(2027, 5, 23)


def test_a_parcours_longer_than_the_maximum_warns_in_french() -> None:
    assert duration_warning(date(2025, 1, 1), date(2026, 7, 1), 18) is None
    warning = duration_warning(date(2025, 1, 1), date(2026, 7, 2), 18)
    assert warning is not None
    assert "18 mois" in warning


def test_deleting_a_subject_key_makes_its_identity_unreadable(tmp_path: Path) -> None:
    vault = IdentityVault(load_master_key(tmp_path, None, create=True))
    subject = uuid.uuid4()
    wrapped = vault.new_data_key(subject)
    blob = vault.encrypt(wrapped, subject, {"child": {"first_name": "Lina"}})
    assert b"Lina" not in blob
    assert vault.decrypt(wrapped, subject, blob) == {"child": {"first_name": "Lina"}}
    with pytest.raises(IdentityUnreadableError):
        vault.decrypt(wrapped, uuid.uuid4(), blob)  # bound to its subject
    with pytest.raises(IdentityUnreadableError):
        vault.decrypt(vault.new_data_key(subject), subject, blob)  # the old key is gone
    other = IdentityVault(load_master_key(tmp_path / "other", None, create=True))
    with pytest.raises(IdentityUnreadableError):
        other.decrypt(wrapped, subject, blob)


def test_a_missing_master_key_stops_the_start_up_when_creation_is_off(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_master_key(tmp_path, None, create=False)


def test_review_deadline_counts_days_in_the_pre_time_zone() -> None:
    from datetime import UTC, datetime

    from relais_parcours.domain.situation import review_due_on

    # 23:30 UTC on 31 October is already 1 November in Paris.
    opened = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert review_due_on(opened, 21, "Europe/Paris") == date(2026, 11, 22)
    assert review_due_on(opened, 21, "UTC") == date(2026, 11, 21)
