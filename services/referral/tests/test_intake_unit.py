"""Unit tests of the AMQP intake's mapping: facts in clear + opened identity = one fiche."""

from __future__ import annotations

from typing import Any

import pytest

from relais_contracts.v1.referral import ReferralFacts, SubmitReferral
from relais_referral.service.intake import IntakeRejected, request_from_command

FACTS = ReferralFacts(
    age_years=9,
    sex="female",
    school_level="ce2",
    lives_in_qpv="yes",
    source_category="school",
    reason_categories=["learning_difficulties", "speech"],
    axes=["schooling"],
)


def command(**changes: Any) -> SubmitReferral:
    values: dict[str, Any] = {
        "pre_id": "pre-76540",
        "institution_id": "ecole-jules-ferry-rouen",
        "parents_informed": True,
        "parents_agree": True,
        "facts": FACTS,
        "sealed": "a.b.c.d.e",
    }
    return SubmitReferral(**(values | changes))


def opened(**changes: Any) -> dict[str, Any]:
    return {
        "child": {"first_name": "Lina", "last_name": "Martin", "birth_date": "2017-03-14"},
        "guardians": [{"first_name": "Sofia", "last_name": "Martin", "phone": "0612345678"}],
        "referrer": {"name": "Mme Durand", "role": "directrice", "phone": "0235000000"},
        "description": "Difficultés de lecture.",
    } | changes


def test_the_facts_fill_what_the_identity_does_not_say() -> None:
    request = request_from_command(command(), opened())
    assert request.child.school_level == "ce2"
    assert request.child.lives_in_qpv == "yes"
    assert request.reasons.categories == ["learning_difficulties", "speech"]
    assert request.reasons.description == "Difficultés de lecture."
    assert request.axes == ["schooling"]


def test_what_the_identity_says_of_the_child_wins_over_the_facts() -> None:
    child = opened()["child"] | {"school_level": "cm1", "school_uai": "0761234A"}
    request = request_from_command(command(), opened(child=child))
    assert request.child.school_level == "cm1"
    assert request.child.school_uai == "0761234A"


def test_an_invalid_identity_is_rejected_with_field_codes_only() -> None:
    bad = opened(guardians=[{"first_name": "Sofia", "last_name": "Martin", "phone": "12"}])
    with pytest.raises(IntakeRejected) as caught:
        request_from_command(command(), bad)
    assert caught.value.code == "invalid_referral"
    assert caught.value.fields == ["guardians.0.phone:phone_invalid"]
    assert "12" not in str(caught.value).replace("guardians.0", "")


def test_missing_parts_are_named() -> None:
    with pytest.raises(IntakeRejected) as caught:
        request_from_command(command(), {"child": "nonsense"})
    assert {"guardians:missing", "referrer:missing", "reasons.description:missing"} <= set(
        caught.value.fields
    )
