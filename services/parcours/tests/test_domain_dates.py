"""Unit tests of the date rules that compare with the PRE's « today » (no database:
milliseconds). The HTTP tests in test_dates_and_sharing_rules.py check the same 422s end to end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from relais_parcours.domain.consent import refuse_ended
from relais_parcours.domain.dates import FieldRefused, not_after
from relais_parcours.domain.situation import followup_held
from relais_parcours.service.dates import pre_day

TODAY = date(2026, 12, 3)
TOMORROW = TODAY + timedelta(days=1)
YESTERDAY = TODAY - timedelta(days=1)


def test_a_day_after_the_pres_today_is_refused_naming_the_field_in_french() -> None:
    with pytest.raises(FieldRefused) as refused:
        not_after(TODAY, {"met_on": (TOMORROW, "La date de la rencontre")})
    assert (refused.value.field, refused.value.code) == ("met_on", "date_in_future")
    assert refused.value.message == "La date de la rencontre ne peut pas être dans le futur."


def test_today_and_an_absent_day_are_not_in_the_future() -> None:
    not_after(TODAY, {"met_on": (TODAY, "La date"), "ended_on": (None, "La fin")})


def test_a_follow_up_is_recorded_up_to_the_pres_today_and_not_a_day_later() -> None:
    followup_held(TODAY, TODAY)
    followup_held(YESTERDAY, TODAY)
    with pytest.raises(FieldRefused) as refused:
        followup_held(TOMORROW, TODAY)
    assert (refused.value.field, refused.value.code) == ("held_on", "date_in_future")
    assert refused.value.message == "La date du suivi ne peut pas être dans le futur."


def test_a_consent_valid_until_today_is_in_force_and_one_that_ended_yesterday_is_refused() -> None:
    refuse_ended(TODAY, TODAY)
    refuse_ended(None, TODAY)  # no last day: valid until withdrawn
    with pytest.raises(FieldRefused) as refused:
        refuse_ended(YESTERDAY, TODAY)
    assert (refused.value.field, refused.value.code) == ("valid_until", "valid_until_past")
    assert "vigueur" in refused.value.message


def test_the_follow_up_rule_counts_today_in_the_pres_time_zone_not_in_utc() -> None:
    # 23:30 UTC on 2 December is already 3 December in Paris: a follow-up held on the 3rd
    # is today there, though tomorrow in UTC.
    paris = SimpleNamespace(settings=SimpleNamespace(timezone="Europe/Paris"))
    late_evening_utc = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    followup_held(TODAY, pre_day(paris, late_evening_utc))  # type: ignore[arg-type]
    with pytest.raises(FieldRefused):
        followup_held(TODAY, late_evening_utc.date())
