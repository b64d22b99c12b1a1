"""No personal data on the wire: no field may be named like identity or free text.

Events carry a pseudonymous subject_id, ids, dates, counts and codes. The only way for the
child's identity or a professional's note to travel is inside ``sealed`` (a JWE to the
PRE). These tests scan every schema so that adding such a field fails at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from relais_contracts.base import Message
from relais_contracts.catalogue import ALL_MESSAGES
from relais_contracts.export import message_schema

MESSAGES = [pytest.param(m, id=m.message_type) for m in ALL_MESSAGES]

#: Words that must not appear as a word of any field name (``guardian_phone`` fails too).
FORBIDDEN_WORDS = frozenset(
    {
        "name",
        "firstname",
        "lastname",
        "surname",
        "forename",
        "birth",
        "birthdate",
        "dob",
        "born",
        "address",
        "street",
        "postcode",
        "zipcode",
        "phone",
        "mobile",
        "telephone",
        "email",
        "mail",
        "note",
        "notes",
        "description",
        "comment",
        "comments",
        "remark",
        "remarks",
        "text",
        "observations",
        "nir",
        "ssn",
        "ine",
    }
)
#: Whole field names that are forbidden even though their words alone are not.
FORBIDDEN_NAMES = frozenset({"first_name", "last_name", "birth_date", "date_of_birth", "free_text"})
#: Field names allowed although they look like an exception to the rule above.
ALLOWED = frozenset({"sealed"})
#: String fields with no pattern, enum or format: free text by construction. Each is reviewed.
REVIEWED_FREE_STRINGS = {
    # The name of an organisation a situation is redirected to: never a person (documented).
    "redirected_to",
}


def properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (field name, field schema) in a schema, its $defs included."""
    for key, value in schema.items():
        if key == "properties" and isinstance(value, Mapping):
            for name, prop in value.items():
                yield name, prop
                yield from properties(prop)
        elif isinstance(value, Mapping):
            yield from properties(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from properties(item)


def string_branches(prop: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for branch in [prop, *prop.get("anyOf", ()), *prop.get("oneOf", ())]:
        if branch.get("type") == "string":
            yield branch
        items = branch.get("items")
        if isinstance(items, Mapping) and items.get("type") == "string":
            yield items


def is_forbidden(name: str) -> bool:
    if name in ALLOWED:
        return False
    return name in FORBIDDEN_NAMES or any(w in FORBIDDEN_WORDS for w in name.split("_"))


@pytest.mark.parametrize("message", MESSAGES)
def test_no_field_is_named_like_personal_data(message: type[Message]) -> None:
    offending = sorted({n for n, _ in properties(message_schema(message)) if is_forbidden(n)})
    assert not offending, f"{message.__name__} has personal-data-like fields: {offending}"


@pytest.mark.parametrize("message", MESSAGES)
def test_no_string_field_is_unconstrained_free_text(message: type[Message]) -> None:
    free = set()
    for name, prop in properties(message_schema(message)["$defs"]):
        for branch in string_branches(prop):
            if not ({"pattern", "format", "enum", "const"} & branch.keys()):
                free.add(name)
    assert free <= REVIEWED_FREE_STRINGS, (
        f"{message.__name__}: {sorted(free - REVIEWED_FREE_STRINGS)} accept any text; "
        "use an id, a code (enum) or a pattern"
    )


def test_the_scan_catches_a_forbidden_field() -> None:
    assert is_forbidden("first_name")
    assert is_forbidden("guardian_phone")
    assert is_forbidden("email")
    assert is_forbidden("note")
    assert is_forbidden("description")
    assert is_forbidden("name")
    assert not is_forbidden("sealed")
    assert not is_forbidden("subject_id")
    assert not is_forbidden("recipient_org_id")


def test_the_scan_finds_fields_of_nested_parts() -> None:
    from relais_contracts.v1.referral import ReferralSubmitted

    names = {n for n, _ in properties(message_schema(ReferralSubmitted))}
    assert {"age_years", "reason_categories", "sealed"} <= names


def test_identity_travels_only_sealed() -> None:
    sealed = [m for m in ALL_MESSAGES if "sealed" in m.model_fields]
    assert {m.message_type for m in sealed} == {"referral.submitted", "referral.submit"}
