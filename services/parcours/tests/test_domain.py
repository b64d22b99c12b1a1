"""Unit tests of parcours's domain types (no database, no broker: milliseconds)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from relais_contracts.types import HandoverCancelReason
from relais_parcours.domain.consent import (
    Consent,
    ConsentEndedError,
    ConsentStatus,
    UnknownGuardianError,
)
from relais_parcours.domain.handover import Handover, HandoverClosedError, HandoverStatus
from relais_parcours.domain.review import STAGE_AFTER
from relais_parcours.domain.situation import OnReferral, Stage, on_new_referral
from relais_parcours.service.dates import pre_day

SITUATION = uuid.uuid4()
CMPP_SCOPE = ({"partner_id": "cmpp-rouen", "data_categories": ["identity_and_contact", "health"]},)
CATEGORIES = {"cmpp-rouen": "cmpp", "clas-saint-sever": "clas"}


def handover(partner_id: str = "cmpp-rouen", status: str = "requested", **row: Any) -> Handover:
    return Handover.of(
        {
            "id": uuid.uuid4(),
            "pre_id": "pre-76540",
            "situation_id": SITUATION,
            "subject_id": uuid.uuid4(),
            "partner_id": partner_id,
            "referent_id": uuid.uuid4(),
            "status": status,
            "data_categories": ["health"],
            **row,
        }
    )


def consent(
    status: str = "active", scope: tuple[dict[str, Any], ...] = CMPP_SCOPE, **row: Any
) -> Consent:
    return Consent.of(
        {
            "id": uuid.uuid4(),
            "situation_id": SITUATION,
            "status": status,
            "scope": scope,
            "valid_until": None,
            "guardians": [{"label": "Mère"}, {"label": "Père"}],
            **row,
        }
    )


def test_a_withdrawal_cancels_every_handover_the_partners_still_hold() -> None:
    held = [handover(), handover("clas-saint-sever", "accepted"), handover(status="waitlisted")]
    ended = [handover(status="completed"), handover(status="declined")]

    label, cancelled = consent().withdrawn_by("Mère", [*held, *ended])

    assert label == "Mère"
    assert cancelled == held


def test_a_withdrawal_names_the_guardian_as_the_consent_wrote_it() -> None:
    label, _ = consent().withdrawn_by("  pÈRE ", [])
    assert label == "Père"


def test_only_a_guardian_who_gave_the_consent_may_withdraw_it() -> None:
    with pytest.raises(UnknownGuardianError) as refused:
        consent().withdrawn_by("Tante", [handover()])
    assert refused.value.labels == ["Mère", "Père"]


@pytest.mark.parametrize("status", ["superseded", "withdrawn", "expired"])
def test_a_consent_no_longer_active_cannot_be_withdrawn(status: str) -> None:
    with pytest.raises(ConsentEndedError):
        consent(status).withdrawn_by("Mère", [handover()])


def test_a_new_consent_cancels_the_handovers_its_scope_no_longer_covers() -> None:
    health = handover("cmpp-rouen")
    schooling = handover("clas-saint-sever", data_categories=["schooling"])
    narrower = consent(scope=({"partner_category": "clas", "data_categories": ["schooling"]},))

    assert narrower.uncovered([health, schooling], CATEGORIES.__getitem__) == [health]
    assert consent().uncovered([health], CATEGORIES.__getitem__) == []


def test_a_consent_covers_no_more_categories_than_its_scope_gives() -> None:
    wants_more = handover(data_categories=["health", "schooling"])
    assert not consent().covers(wants_more, CATEGORIES.__getitem__)


def test_a_consent_is_in_force_until_the_end_of_its_last_valid_day() -> None:
    until = consent(valid_until=date(2027, 3, 31))
    assert until.in_force(date(2027, 3, 31))
    assert not until.in_force(date(2027, 4, 1))
    assert not consent(ConsentStatus.WITHDRAWN.value).in_force(date(2027, 1, 1))


def test_cancelling_an_open_handover_tells_its_partner_why_and_when() -> None:
    h = handover()
    at = datetime(2027, 2, 3, 9, 15, tzinfo=UTC)

    event = h.cancel(HandoverCancelReason.CONSENT_WITHDRAWN, at)

    assert (event.handover_id, event.partner_id, event.referent_id) == (
        h.id,
        "cmpp-rouen",
        h.referent_id,
    )
    assert (event.reason, event.cancelled_at) == (HandoverCancelReason.CONSENT_WITHDRAWN, at)


@pytest.mark.parametrize("status", ["declined", "completed", "cancelled"])
def test_a_handover_that_ended_cannot_be_cancelled(status: str) -> None:
    h = handover(status=status)
    assert not h.is_open
    with pytest.raises(HandoverClosedError):
        h.cancel(HandoverCancelReason.OTHER, datetime.now(UTC))


def test_a_stage_is_its_stored_value() -> None:
    assert Stage("in_parcours") is Stage.IN_PARCOURS
    assert Stage.IN_PARCOURS == "in_parcours"
    assert {decision: str(stage) for decision, stage in STAGE_AFTER.items()} == {
        "take_up": "in_parcours",
        "redirect": "redirected",
        "decline": "declined",
    }
    assert HandoverStatus("waitlisted") is HandoverStatus.WAITLISTED


@pytest.mark.parametrize(
    ("latest", "step"),
    [
        (None, OnReferral.OPEN),
        (Stage.CLOSED, OnReferral.OPEN),
        (Stage.DECLINED, OnReferral.OPEN),
        (Stage.REDIRECTED, OnReferral.OPEN),
        (Stage.AWAITING_REVIEW, OnReferral.JOIN),
        (Stage.IN_PARCOURS, OnReferral.JOIN),
        (Stage.WITHDRAWN, OnReferral.REOPEN),
        (Stage.ERASED, OnReferral.DROP),
    ],
)
def test_a_new_referral_follows_the_stage_of_the_childs_latest_file(
    latest: Stage | None, step: OnReferral
) -> None:
    assert on_new_referral(latest) is step


def test_the_pres_day_is_counted_in_its_own_time_zone() -> None:
    paris = SimpleNamespace(settings=SimpleNamespace(timezone="Europe/Paris"))
    late_evening_utc = datetime(2027, 6, 30, 22, 30, tzinfo=UTC)
    assert pre_day(paris, late_evening_utc) == date(2027, 7, 1)  # type: ignore[arg-type]
