"""Unit tests of the notification texts: a reference and a link, never a child's identity."""

from __future__ import annotations

import uuid

from relais_contracts.types import ReferralStatus
from relais_notifications.domain.messages import (
    STATUS_LABELS,
    referral_status_entry,
    short_ref,
    situation_opened_entry,
)


def test_every_status_has_a_french_label() -> None:
    assert set(STATUS_LABELS) == set(ReferralStatus)


def test_sender_entry_names_the_referral_by_reference_and_links_to_it() -> None:
    rid = uuid.UUID("1346224f-567a-4404-8b75-eadad09a6fdb")
    entry = referral_status_entry("ecole-a", rid, ReferralStatus.UNDER_REVIEW, "https://r.example")
    assert entry.recipient == "org:ecole-a"
    assert entry.title == "Orientation O-1346224F : en cours d'examen par l'équipe du PRE."
    assert entry.link == f"https://r.example/v1/referrals/{rid}"


def test_coordinator_entry_goes_to_the_coordinator_role() -> None:
    sid = uuid.uuid4()
    entry = situation_opened_entry(sid, "https://p.example")
    assert entry.recipient == "role:coordinator"
    assert short_ref("S", sid) in entry.title
