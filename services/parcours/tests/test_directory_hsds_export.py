"""The partner directory's export is Open Referral HSDS 3, checked with the spec's schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from relais_contracts.types import PartnerCategory
from relais_parcours.domain.departements import departement_of
from relais_parcours.domain.hsds import Directory, category_term_id, organization_id
from relais_parcours.domain.hsds_import import check, read_organization
from relais_parcours.domain.partner import PartnerBody, problems

from .hsds_schema import problems as schema_problems

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)

#: The partner of issue 18 (one service, one location, one contact): 13 schema errors
#: before the fix (absent values as null, no address or phone ids, no address_type, no
#: state_province, the deprecated wait_time).
ISSUE_18_PARTNER: dict[str, Any] = {
    "id": "cmpp-rouen",
    "pre_id": "pre-76540",
    "name": "CMPP Rouen rive gauche",
    "category": "cmpp",
    "description": "Centre médico-psycho-pédagogique",
    "email": "accueil@cmpp.example",
    "services": [{"id": "bilan", "name": "Bilans psychologiques", "description": "Bilans"}],
    "locations": [
        {
            "id": "site-sud",
            "name": "Site sud",
            "addresses": [
                {"address_1": "1 rue de la Paix", "city": "Rouen", "postal_code": "76100"}
            ],
        }
    ],
    "contacts": [
        {
            "id": "secretariat",
            "name": "Secrétariat",
            "title": "Accueil",
            "phones": [{"number": "02 35 00 00 00"}],
        }
    ],
}


def export(body: dict[str, Any], hsds_id: uuid.UUID | None = None) -> dict[str, Any]:
    return Directory(PartnerBody(**body), updated_at=NOW, hsds_id=hsds_id).organization()


def nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in nulls(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in nulls(v, f"{path}/{i}")]
    return []


def test_the_partner_of_issue_18_exports_without_a_single_schema_error() -> None:
    assert schema_problems(export(ISSUE_18_PARTNER), "organization") == []


def test_a_fully_linked_partner_validates_with_ids_departement_and_waiting_time() -> None:
    body = {
        **ISSUE_18_PARTNER,
        "website": "https://cmpp-rouen.example/",
        "services": [
            {
                "id": "bilan",
                "name": "Bilans psychologiques",
                "wait_time": "environ 8 mois",
                "wait_time_days": 240,
                "minimum_age": 3,
                "maximum_age": 18,
                "location_ids": ["site-sud"],
                "contact_ids": ["secretariat"],
                "schedules": [{"byday": ["MO", "TH"], "opens_at": "09:00", "closes_at": "17:30"}],
            }
        ],
    }
    org = export(body)
    assert schema_problems(org, "organization") == []
    assert nulls(org) == []
    address = org["locations"][0]["addresses"][0]
    assert (address["state_province"], address["region"]) == ("Seine-Maritime", "Normandie")
    assert address["address_type"] == "physical"
    service = org["services"][0]
    assert "wait_time" not in service  # deprecated by HSDS 3
    wait = [a for a in service["attributes"] if a["taxonomy_term"]["code"] == "delai-attente"]
    assert wait[0]["value"] == "environ 8 mois"
    assert service["relais_wait_time_days"] == 240
    sal = service["service_at_locations"][0]
    assert sal["location_id"] == org["locations"][0]["id"] == sal["location"]["id"]
    assert service["schedules"][0]["byday"] == "MO,TH"
    assert org["organization_identifiers"][0]["identifier"] == "cmpp-rouen"
    assert org["attributes"][0]["taxonomy_term_id"] == str(category_term_id("cmpp"))


def test_hsds_ids_are_stable_uuids_derived_from_the_slugs_or_kept_from_an_import() -> None:
    first, again = export(ISSUE_18_PARTNER), export({**ISSUE_18_PARTNER, "name": "CMPP renommé"})
    assert first["id"] == again["id"] == str(organization_id("cmpp-rouen"))
    assert first["services"][0]["id"] == again["services"][0]["id"]
    assert (
        first["locations"][0]["addresses"][0]["id"] == again["locations"][0]["addresses"][0]["id"]
    )
    imported = uuid.UUID("0b7f3c1e-54a2-4d1e-9b7a-2f64c9d0e111")
    service_uuid = "5d0a6c8e-2b1f-4e3a-8c7d-9e0f1a2b3c4d"
    body = {**ISSUE_18_PARTNER, "services": [{"id": service_uuid, "name": "Bilans"}]}
    org = export(body, hsds_id=imported)
    assert org["id"] == str(imported)
    assert org["services"][0]["id"] == service_uuid
    ids = [org["id"], org["services"][0]["id"], org["locations"][0]["id"], org["contacts"][0]["id"]]
    assert len(set(ids)) == len(ids)


def test_the_departement_comes_from_the_postal_code_corsica_and_overseas_included() -> None:
    assert departement_of("76100").name == "Seine-Maritime"  # type: ignore[union-attr]
    assert departement_of("20090").name == "Corse-du-Sud"  # type: ignore[union-attr]
    assert departement_of("20200").name == "Haute-Corse"  # type: ignore[union-attr]
    assert departement_of("97400").region == "La Réunion"  # type: ignore[union-attr]
    assert departement_of("00100") is None
    stated = {
        **ISSUE_18_PARTNER,
        "locations": [
            {
                "id": "site",
                "location_type": "postal",
                "addresses": [
                    {
                        "address_1": "BP 12",
                        "city": "Rouen",
                        "postal_code": "76100",
                        "state_province": "Eure",
                    }
                ],
            }
        ],
    }
    address = export(stated)["locations"][0]["addresses"][0]
    assert (address["state_province"], address["region"]) == ("Eure", "Normandie")
    assert address["address_type"] == "postal"


def test_cross_field_rules_name_the_field_that_breaks_them() -> None:
    body = PartnerBody(
        **{
            **ISSUE_18_PARTNER,
            "services": [
                {
                    "id": "bilan",
                    "name": "Bilans",
                    "location_ids": ["ailleurs"],
                    "minimum_age": 12,
                    "maximum_age": 6,
                    "schedules": [{"byday": ["MO"], "opens_at": "18:00", "closes_at": "09:00"}],
                },
                {"id": "bilan", "name": "Doublon"},
            ],
            "locations": [
                {
                    "id": "site",
                    "addresses": [{"address_1": "x", "city": "y", "postal_code": "00100"}],
                }
            ],
        }
    )
    assert sorted((p.field, p.code) for p in problems(body)) == [
        ("locations.0.addresses.0.postal_code", "unknown_departement"),
        ("services.0.location_ids", "unknown_location"),
        ("services.0.maximum_age", "ages_reversed"),
        ("services.0.schedules.0.closes_at", "closes_before_opening"),
        ("services.1.id", "duplicate_id"),
    ]


# --- any partner an administrator may record exports valid HSDS -----------------------------

# The languages of [a-z0-9][a-z0-9-]{0,20}, [a-z0-9._-]{1,12}@[a-z0-9-]{1,12}\.(fr|org|example),
# https://[a-z0-9-]{1,12}\.(fr|org)(/[a-z0-9-]{0,10})?, [0-9]{5} and 0[1-9]( ?[0-9]{2}){4}, built
# from text and integer strategies: st.from_regex drew them 2 to 4 times slower, and a .filter on
# text 3 times slower than the .map below (which keeps the same language).
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
slugs = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(ALNUM + "-", max_size=20))
words = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30
).map(lambda t: t if t.strip() else "x" + t)
emails = st.builds(
    "{}@{}.{}".format,
    st.text(ALNUM + "._-", min_size=1, max_size=12),
    st.text(ALNUM + "-", min_size=1, max_size=12),
    st.sampled_from(["fr", "org", "example"]),
)
urls = st.builds(
    "https://{}.{}{}".format,
    st.text(ALNUM + "-", min_size=1, max_size=12),
    st.sampled_from(["fr", "org"]),
    st.just("") | st.text(ALNUM + "-", max_size=10).map("/".__add__),
)
postal_codes = st.integers(0, 99_999).map("{:05d}".format)
maybe = st.none().__or__


def phone(area: int, digits: int, spaces: int) -> str:
    """0 then area, then four pairs of digits, each after a space where ``spaces`` has a bit."""
    pairs = f"{digits:08d}"
    return f"0{area}" + "".join(
        (" " if spaces >> i & 1 else "") + pairs[2 * i : 2 * i + 2] for i in range(4)
    )


phones = st.builds(phone, st.integers(1, 9), st.integers(0, 99_999_999), st.integers(0, 15))
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    opens, closes = sorted(
        draw(st.lists(st.integers(0, 23 * 60 + 59), min_size=2, max_size=2, unique=True))
    )
    return {
        # Distinct days in any order: a prefix of a permutation.
        "byday": draw(st.permutations(DAYS))[: draw(st.integers(1, 7))],
        "opens_at": f"{opens // 60:02d}:{opens % 60:02d}",
        "closes_at": f"{closes // 60:02d}:{closes % 60:02d}",
        "description": draw(maybe(words)),
    }


@st.composite
def addresses(draw: st.DrawFn) -> dict[str, Any]:
    postal_code = draw(postal_codes)
    stated = draw(maybe(words)) if departement_of(postal_code) else draw(words)
    return {
        "address_1": draw(words),
        "address_2": draw(maybe(words)),
        "city": draw(words),
        "postal_code": postal_code,
        "state_province": stated,
        "address_type": draw(maybe(st.sampled_from(["physical", "postal"]))),
    }


@st.composite
def partners(draw: st.DrawFn) -> dict[str, Any]:
    location_ids = draw(st.lists(slugs, max_size=3, unique=True))
    contact_ids = draw(st.lists(slugs, max_size=3, unique=True))
    locations = [
        {
            "id": lid,
            "location_type": draw(st.sampled_from(["physical", "virtual", "postal"])),
            "name": draw(maybe(words)),
            "description": draw(maybe(words)),
            "addresses": draw(st.lists(addresses(), max_size=2)),
            "latitude": draw(maybe(st.floats(-90, 90))),
            "longitude": draw(maybe(st.floats(-180, 180))),
            "schedules": draw(st.lists(schedules(), max_size=2)),
        }
        for lid in location_ids
    ]
    contacts = [
        {
            "id": cid,
            "name": draw(maybe(words)),
            "title": draw(maybe(words)),
            "email": draw(maybe(emails)),
            "phones": [{"number": n} for n in draw(st.lists(phones, max_size=2))],
        }
        for cid in contact_ids
    ]
    services = []
    for sid in draw(st.lists(slugs, max_size=3, unique=True)):
        ages = sorted(draw(st.lists(st.integers(0, 25), min_size=2, max_size=2)))
        with_ages = draw(st.booleans())
        services.append(
            {
                "id": sid,
                "name": draw(words),
                "description": draw(maybe(words)),
                "status": draw(
                    st.sampled_from(["active", "inactive", "defunct", "temporarily closed"])
                ),
                "url": draw(maybe(urls)),
                "email": draw(maybe(emails)),
                "minimum_age": ages[0] if with_ages else None,
                "maximum_age": ages[1] if with_ages else draw(maybe(st.integers(0, 25))),
                "wait_time": draw(maybe(words)),
                "wait_time_days": draw(maybe(st.integers(0, 3650))),
                "location_ids": draw(st.lists(st.sampled_from(location_ids), unique=True))
                if location_ids
                else [],
                "contact_ids": draw(st.lists(st.sampled_from(contact_ids), unique=True))
                if contact_ids
                else [],
                "schedules": draw(st.lists(schedules(), max_size=2)),
            }
        )
    return {
        "id": draw(slugs),
        "pre_id": "pre-76540",
        "name": draw(words),
        "category": draw(st.sampled_from(list(PartnerCategory))).value,
        "description": draw(maybe(words)),
        "website": draw(maybe(urls)),
        "email": draw(maybe(emails)),
        "services": services,
        "locations": locations,
        "contacts": contacts,
    }


@settings(max_examples=150, deadline=None)
@given(partners(), st.none() | st.uuids())
def test_every_partner_an_administrator_may_record_exports_valid_hsds(
    body: dict[str, Any], hsds_id: uuid.UUID | None
) -> None:
    entry = PartnerBody(**body)
    assert problems(entry) == []
    org = Directory(entry, updated_at=NOW, hsds_id=hsds_id).organization()
    assert schema_problems(org, "organization") == []
    assert nulls(org) == []
    ids = [org["id"]] + [x["id"] for k in ("services", "locations", "contacts") for x in org[k]]
    assert len(set(ids)) == len(ids)


@settings(max_examples=100, deadline=None)
@given(partners())
@example({**ISSUE_18_PARTNER, "id": "cmpp--rouen-"})
def test_an_exported_partner_imported_back_is_the_same_entry(body: dict[str, Any]) -> None:
    entry = PartnerBody(**body)
    d = Directory(entry, updated_at=NOW)
    candidate = read_organization(0, entry.tenant, d.organization())
    imported = check(candidate)
    assert imported is not None, candidate.errors
    # What an import cannot tell apart: children are known by their HSDS ids, and what
    # the export derives (département, address type, the waiting time's words) is stated.
    services = {s.id: str(d.service_id(s)) for s in entry.services}
    locations = {loc.id: str(d.location_id(loc)) for loc in entry.locations}
    contacts = {c.id: str(d.contact_id(c)) for c in entry.contacts}
    expected = entry.model_dump(mode="json")
    for s in expected["services"]:
        s["id"] = services[s["id"]]
        s["location_ids"] = [locations[x] for x in s["location_ids"]]
        s["contact_ids"] = [contacts[x] for x in s["contact_ids"]]
        if s["wait_time"] is None and s["wait_time_days"] is not None:
            s["wait_time"] = f"{s['wait_time_days']} jours"
    exported_locations = {x["id"]: x for x in d.organization()["locations"]}
    for loc in expected["locations"]:
        loc["id"] = locations[loc["id"]]
        for a, exported in zip(
            loc["addresses"], exported_locations[loc["id"]]["addresses"], strict=True
        ):
            a["state_province"] = exported["state_province"]
            a["address_type"] = exported["address_type"]
    for c in expected["contacts"]:
        c["id"] = contacts[c["id"]]
    assert imported.model_dump(mode="json") == expected
