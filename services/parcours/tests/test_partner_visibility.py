"""What a partner may read of a handover (the rule itself, without a database)."""

from __future__ import annotations

from relais_parcours.domain.handover import (
    AFTER_ACCEPTANCE_FIELDS,
    CONTENT_FIELDS,
    withheld_from_partner,
)


def test_a_partner_never_reads_the_situation_of_its_handover() -> None:
    for status in ("requested", "accepted", "completed", "cancelled"):
        for visible in (True, False):
            assert "situation_id" in withheld_from_partner(status, visible)


def test_before_accepting_a_partner_reads_the_action_but_not_the_referent_or_the_data() -> None:
    for status in ("requested", "waitlisted", "declined"):
        hidden = withheld_from_partner(status, content_visible=True)
        assert hidden == {"situation_id"} | AFTER_ACCEPTANCE_FIELDS
        assert {"action_id", "axis", "action_title"}.isdisjoint(hidden)


def test_once_accepted_a_partner_reads_everything_but_the_situation() -> None:
    for status in ("accepted", "completed"):
        assert withheld_from_partner(status, content_visible=True) == {"situation_id"}


def test_without_the_consent_a_partner_reads_nothing_of_what_the_handover_is_about() -> None:
    for status in ("requested", "accepted", "completed", "cancelled"):
        assert withheld_from_partner(status, content_visible=False) == (
            {"situation_id"} | CONTENT_FIELDS
        )
