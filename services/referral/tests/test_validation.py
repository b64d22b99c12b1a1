"""Unit tests of the fiche de liaison's validation: each rule names its field, in French."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from relais_referral.entrypoints.schemas import ReferralRequest
from relais_runtime.errors import translate_validation_errors


def errors_of(body: dict[str, Any]) -> dict[str | None, tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ReferralRequest.model_validate(body)
    return {
        e["field"]: (e["code"], e["message"])
        for e in translate_validation_errors(caught.value.errors())
    }


def with_child(fiche: Any, **changes: Any) -> dict[str, Any]:
    body = fiche()
    body["child"] = body["child"] | changes
    return body


def with_guardian(fiche: Any, **changes: Any) -> dict[str, Any]:
    body = fiche()
    body["guardians"] = [body["guardians"][0] | changes]
    return body


def test_a_complete_fiche_is_accepted(fiche: Any) -> None:
    request = ReferralRequest.model_validate(fiche())
    assert request.guardians[0].phone == "0612345678"
    assert request.child.school_uai == "0761234A"


def test_a_child_born_in_the_future_is_refused(fiche: Any) -> None:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    code, message = errors_of(with_child(fiche, birth_date=tomorrow))["child.birth_date"]
    assert code == "date_in_future"
    assert "futur" in message


@pytest.mark.parametrize("years", [1, 17])
def test_a_child_outside_2_to_16_is_refused(fiche: Any, years: int) -> None:
    today = datetime.now(UTC).date()
    born = date(today.year - years, 1, 1) if years == 17 else date(today.year - 1, 1, 1)
    code, message = errors_of(with_child(fiche, birth_date=born.isoformat()))["child.birth_date"]
    assert code == "age_out_of_range"
    assert "de 2 à 16 ans" in message


@pytest.mark.parametrize("phone", ["12345", "06 12 34 56", "+33 0 12 34 56 78", "abc"])
def test_a_malformed_phone_is_refused_on_its_field(fiche: Any, phone: str) -> None:
    code, message = errors_of(with_guardian(fiche, phone=phone))["guardians.0.phone"]
    assert code == "phone_invalid"
    assert "téléphone" in message


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("06.12.34.56.78", "0612345678"),
        ("+33 6 12 34 56 78", "0612345678"),
        ("+32 470 12 34 56", "+32470123456"),
    ],
)
def test_french_and_international_phones_are_accepted(fiche: Any, phone: str, stored: str) -> None:
    request = ReferralRequest.model_validate(with_guardian(fiche, phone=phone))
    assert request.guardians[0].phone == stored


def test_a_malformed_email_gets_a_precise_error(fiche: Any) -> None:
    body = fiche()
    body["referrer"] = body["referrer"] | {"email": "durand@"}
    code, message = errors_of(body)["referrer.email"]
    assert code == "email_invalid"
    assert "e-mail" in message


def test_parents_informed_in_the_future_is_refused(fiche: Any) -> None:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    code, _ = errors_of(fiche(parents_informed_on=tomorrow))["parents_informed_on"]
    assert code == "date_in_future"


def test_agreement_without_being_informed_is_incoherent(fiche: Any) -> None:
    # A rule across fields is reported on the whole body (no field).
    code, message = errors_of(fiche(parents_informed=False))[None]
    assert code == "parents_not_informed"
    assert "informés" in message


def test_a_family_nobody_can_reach_is_refused(fiche: Any) -> None:
    body = with_guardian(fiche, phone=None)
    [(code, message)] = errors_of(body).values()
    assert code == "guardian_contact_required"
    assert "joindre la famille" in message


def test_a_referrer_without_contact_is_refused(fiche: Any) -> None:
    body = fiche(referrer={"name": "Mme Durand", "role": "directrice"})
    code, _ = errors_of(body)["referrer"]
    assert code == "referrer_contact_required"


def test_bad_uai_language_and_unknown_fields_name_their_field(fiche: Any) -> None:
    body = with_child(fiche, school_uai="761234")
    body["guardians"][0]["languages"] = ["français"]
    body["child"]["nationality"] = "x"
    errors = errors_of(body)
    assert errors["child.school_uai"][0] == "uai_invalid"
    assert errors["guardians.0.languages.0"][0] == "language_invalid"
    assert errors["child.nationality"][0] == "extra_forbidden"


def test_no_reason_or_axis_is_refused(fiche: Any) -> None:
    errors = errors_of(fiche(axes=[], reasons={"categories": [], "description": "x"}))
    assert errors["axes"][0] == "too_short"
    assert errors["reasons.categories"][0] == "too_short"


def test_a_nul_character_anywhere_in_the_fiche_is_refused_on_its_field(fiche: Any) -> None:
    body = with_child(fiche, first_name="Éloïse\u0000")
    body["guardians"][0]["languages"] = ["fr", "ar\u0000"]
    body["reasons"]["description"] = "Difficultés\u0000"
    errors = errors_of(body)
    assert errors["child.first_name"][0] == "nul_character"
    assert "caractère nul" in errors["child.first_name"][1]
    assert errors["reasons.description"][0] == "nul_character"
    assert errors["guardians.0.languages.1"][0] == "language_invalid"


def test_digits_of_other_scripts_are_refused_in_phone_and_school_code(fiche: Any) -> None:
    # Arabic-Indic digits are digits to Python's \d, not to a telephone network or to the
    # Éducation nationale's directory.
    phone = errors_of(with_guardian(fiche, phone="٠٦١٢٣٤٥٦٧٨"))["guardians.0.phone"]
    assert phone[0] == "phone_invalid"
    uai = errors_of(with_child(fiche, school_uai="٠٧٦١٢٣٤A"))["child.school_uai"]
    assert uai[0] == "uai_invalid"
