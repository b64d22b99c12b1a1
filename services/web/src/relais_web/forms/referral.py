"""The fiche de liaison: the form's fields are named by the API's paths (``child.birth_date``,
``guardians.1.phone``) so that each field error the API returns lands beside its field."""

from __future__ import annotations

from typing import Any

from relais_web.forms.values import FormValues, many, put, text, words, yes_no

GUARDIAN_SLOTS = 2
_GUARDIAN_FIELDS = (
    "first_name",
    "last_name",
    "relationship",
    "parental_authority",
    "phone",
    "email",
    "address",
    "languages",
    "interpreter_needed",
)
#: What a person types: the other fields of the second guardian's block have defaults.
_TYPED_FIELDS = ("first_name", "last_name", "phone", "email", "address")


def _guardian(form: FormValues, index: int) -> dict[str, Any] | None:
    prefix = f"guardians.{index}."
    if index > 0 and not any(text(form, prefix + f) for f in _TYPED_FIELDS):
        return None  # the second guardian is optional: an untouched block is not sent
    guardian: dict[str, Any] = {}
    for key in ("first_name", "last_name", "relationship", "phone", "email", "address"):
        put(guardian, key, text(form, prefix + key))
    put(guardian, "parental_authority", yes_no(form, prefix + "parental_authority"))
    put(guardian, "languages", words(form, prefix + "languages"))
    guardian["interpreter_needed"] = text(form, prefix + "interpreter_needed") == "on"
    return guardian


def referral_body(form: FormValues, tenant: str) -> dict[str, Any]:
    """The API body of a posted fiche; empty fields are left out for the API to name."""
    child: dict[str, Any] = {}
    for key in (
        "first_name",
        "last_name",
        "birth_date",
        "sex",
        "school_name",
        "school_uai",
        "school_level",
        "lives_in_qpv",
    ):
        put(child, key, text(form, f"child.{key}"))
    referrer: dict[str, Any] = {}
    for key in ("name", "role", "phone", "email"):
        put(referrer, key, text(form, f"referrer.{key}"))
    reasons: dict[str, Any] = {}
    put(reasons, "categories", many(form, "reasons.categories"))
    put(reasons, "description", text(form, "reasons.description"))
    body: dict[str, Any] = {
        "pre_id": tenant,
        "child": child,
        "guardians": [
            g for g in (_guardian(form, i) for i in range(GUARDIAN_SLOTS)) if g is not None
        ],
        "referrer": referrer,
        "reasons": reasons,
    }
    put(body, "axes", many(form, "axes"))
    put(body, "parents_informed", yes_no(form, "parents_informed"))
    put(body, "parents_informed_on", text(form, "parents_informed_on"))
    put(body, "parents_agree", yes_no(form, "parents_agree"))
    return body
