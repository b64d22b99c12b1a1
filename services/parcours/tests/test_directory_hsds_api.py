"""The partner directory over HTTP: entries recorded, exported and read in HSDS 3 terms."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .checks import Harness
from .hsds_schema import page_problems
from .hsds_schema import problems as schema_problems

pytestmark = pytest.mark.integration

CMPP_ENTRY: dict[str, Any] = {
    "id": "cmpp-rouen",
    "pre_id": "pre-76540",
    "name": "CMPP Rouen rive gauche",
    "category": "cmpp",
    "email": "accueil@cmpp.example",
    "services": [
        {
            "id": "bilan",
            "name": "Bilans psychologiques",
            "wait_time": "environ 8 mois",
            "wait_time_days": 240,
            "location_ids": ["site-sud"],
            "contact_ids": ["secretariat"],
        }
    ],
    "locations": [
        {
            "id": "site-sud",
            "addresses": [
                {"address_1": "1 rue de la Paix", "city": "Rouen", "postal_code": "76100"}
            ],
            "schedules": [{"byday": ["MO", "WE"], "opens_at": "09:00", "closes_at": "17:00"}],
        }
    ],
    "contacts": [
        {"id": "secretariat", "name": "Secrétariat", "phones": [{"number": "02 35 00 00 00"}]}
    ],
}


async def test_the_partner_directory_speaks_hsds(parcours: Harness) -> None:
    h = parcours
    r = await h.http.put("/v1/partners/cmpp-rouen", json=CMPP_ENTRY, headers=h.auth("coordinator"))
    assert r.status_code == 200, r.text
    partner = h.auth("partner", "cmpp-rouen")
    hsds = (await h.http.get("/v1/partners/cmpp-rouen/hsds", headers=partner)).json()
    assert schema_problems(hsds, "organization") == []
    service = hsds["services"][0]
    assert service["organization_id"] == hsds["id"]
    assert hsds["organization_identifiers"][0]["identifier"] == "cmpp-rouen"
    assert service["relais_wait_time_days"] == 240
    location = service["service_at_locations"][0]["location"]
    assert location["addresses"][0]["state_province"] == "Seine-Maritime"
    assert location["schedules"][0]["byday"] == "MO,WE"
    assert service["contacts"][0]["name"] == "Secrétariat"
    hidden = await h.http.get("/v1/partners/cmpp-rouen", headers=h.auth("partner", "autre"))
    assert hidden.status_code == 404

    renamed = {**CMPP_ENTRY, "name": "CMPP Rouen — site sud"}
    assert (
        await h.http.put("/v1/partners/cmpp-rouen", json=renamed, headers=h.auth("admin"))
    ).status_code == 200
    again = (await h.http.get("/v1/partners/cmpp-rouen/hsds", headers=partner)).json()
    assert again["id"] == hsds["id"]
    assert again["services"][0]["id"] == service["id"]
    assert again["name"] == "CMPP Rouen — site sud"


async def test_an_entry_whose_fields_contradict_each_other_is_refused_naming_them(
    parcours: Harness,
) -> None:
    h = parcours
    service = {
        **CMPP_ENTRY["services"][0],
        "location_ids": ["nulle-part"],
        "minimum_age": 14,
        "maximum_age": 6,
    }
    body = {**CMPP_ENTRY, "services": [service]}
    r = await h.http.put("/v1/partners/cmpp-rouen", json=body, headers=h.auth("coordinator"))
    assert r.status_code == 422, r.text
    errors = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert errors == {
        ("services.0.location_ids", "unknown_location"),
        ("services.0.maximum_age", "ages_reversed"),
    }
    assert all(e["message"] for e in r.json()["errors"])
    missing = await h.http.get("/v1/partners/cmpp-rouen", headers=h.auth("coordinator"))
    assert missing.status_code == 404


# --- the HSDS API (read side) -----------------------------------------------------------------

CLAS_ENTRY: dict[str, Any] = {
    "id": "clas-saint-sever",
    "pre_id": "pre-76540",
    "name": "CLAS Saint-Sever",
    "category": "clas",
    "description": "Accompagnement à la scolarité après la classe.",
    "services": [
        {"id": "aide-devoirs", "name": "Aide aux devoirs", "location_ids": ["centre"]},
        {"id": "ateliers-lecture", "name": "Ateliers lecture", "location_ids": ["centre"]},
    ],
    "locations": [
        {
            "id": "centre",
            "name": "Centre social Saint-Sever",
            "addresses": [
                {"address_1": "2 place Saint-Sever", "city": "Rouen", "postal_code": "76100"}
            ],
            "latitude": 49.4308,
            "longitude": 1.0893,
        }
    ],
}
FOOT_ENTRY: dict[str, Any] = {
    "id": "us-quevilly-foot",
    "pre_id": "pre-76540",
    "name": "US Quevilly — école de foot",
    "category": "sports_association",
    "website": "https://usq-foot.example/",
}


async def directory(h: Harness) -> dict[str, str]:
    """Three partners recorded; their HSDS ids by slug."""
    ids = {}
    for entry in (CMPP_ENTRY, CLAS_ENTRY, FOOT_ENTRY):
        r = await h.http.put(
            f"/v1/partners/{entry['id']}", json=entry, headers=h.auth("coordinator")
        )
        assert r.status_code == 200, r.text
        hsds = await h.http.get(f"/v1/partners/{entry['id']}/hsds", headers=h.auth("coordinator"))
        ids[entry["id"]] = hsds.json()["id"]
    return ids


async def read(h: Harness, path: str, headers: dict[str, str] | None = None) -> Any:
    r = await h.http.get(f"/hsds/pre-76540{path}", headers=headers or h.auth("referent"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_hsds_endpoint_answers_what_the_specification_describes(
    parcours: Harness,
) -> None:
    h = parcours
    ids = await directory(h)
    root = await read(h, "")
    assert root["version"] == "3.0"
    assert root["openapi_url"].endswith("/openapi.json")

    organizations = await read(h, "/organizations")
    assert page_problems(organizations, "organization_list") == []
    assert [o["name"] for o in organizations["contents"]] == [
        "CLAS Saint-Sever",
        "CMPP Rouen rive gauche",
        "US Quevilly — école de foot",
    ]
    cmpp = await read(h, f"/organizations/{ids['cmpp-rouen']}")
    assert schema_problems(cmpp, "organization") == []
    assert cmpp["contacts"][0]["name"] == "Secrétariat"  # a member of the PRE reads contacts

    services = await read(h, "/services")
    assert page_problems(services, "service_list") == []
    assert services["total_items"] == 3
    service = await read(h, f"/services/{cmpp['services'][0]['id']}")
    assert schema_problems(service, "service") == []
    assert service["organization"]["id"] == ids["cmpp-rouen"]

    links = await read(h, "/service_at_locations")
    assert page_problems(links, "service_at_location_list") == []
    assert {"location" in x for x in links["contents"]} == {False}
    full = await read(h, "/service_at_locations?full=true")
    assert page_problems(full, "service_at_location_list") == []
    assert full["contents"][0]["location"]["addresses"][0]["state_province"] == "Seine-Maritime"
    one = await read(h, f"/service_at_locations/{links['contents'][0]['id']}")
    assert schema_problems(one, "service_at_location_list") == []

    taxonomies = await read(h, "/taxonomies")
    assert page_problems(taxonomies, "taxonomy") == []
    terms = await read(h, f"/taxonomy_terms?taxonomy_id={taxonomies['contents'][0]['id']}")
    assert page_problems(terms, "taxonomy_term") == []
    assert {t["code"] for t in terms["contents"]} >= {"cmpp", "clas", "sports_association"}

    for path in ["/organizations/", "/services/", "/service_at_locations/"]:
        missing = await h.http.get(
            f"/hsds/pre-76540{path}{uuid.uuid4()}", headers=h.auth("referent")
        )
        assert missing.status_code == 404
        assert missing.json()["message"].endswith("introuvable.")


async def test_hsds_lists_page_search_and_filter_by_taxonomy_term(parcours: Harness) -> None:
    h = parcours
    ids = await directory(h)
    first = await read(h, "/organizations?per_page=2")
    assert (first["total_items"], first["total_pages"], first["size"]) == (3, 2, 2)
    assert (first["first_page"], first["last_page"], first["empty"]) == (True, False, False)
    second = await read(h, "/organizations?per_page=2&page=2")
    assert (second["size"], second["last_page"], second["page_number"]) == (1, True, 2)
    beyond = await read(h, "/organizations?per_page=2&page=9")
    assert (beyond["contents"], beyond["total_items"], beyond["empty"]) == ([], 3, False)

    assert [o["id"] for o in (await read(h, "/organizations?search=scolarité"))["contents"]] == [
        ids["clas-saint-sever"]
    ]
    lecture = await read(h, "/services?search=LECTURE")
    assert [s["name"] for s in lecture["contents"]] == ["Ateliers lecture"]
    assert (await read(h, "/services?search=lecture%20foot"))["empty"] is True
    by_place = await read(h, "/services?search=Saint-Sever")
    assert by_place["total_items"] == 2

    terms = {t["code"]: t["id"] for t in (await read(h, "/taxonomy_terms"))["contents"]}
    clas = await read(h, f"/services?taxonomy_term_id={terms['clas']}")
    assert {s["organization_id"] for s in clas["contents"]} == {ids["clas-saint-sever"]}
    assert clas["total_items"] == 2
    waiting = await read(h, f"/services?taxonomy_term_id={terms['delai-attente']}")
    assert [s["relais_wait_time_days"] for s in waiting["contents"]] == [240]
    unknown = await read(h, f"/services?taxonomy_term_id={uuid.uuid4()}")
    assert unknown["empty"] is True
    own = await read(h, f"/service_at_locations?organization_id={ids['clas-saint-sever']}")
    assert own["total_items"] == 2
    later = await read(h, "/services?modified_after=2999-01-01T00:00:00Z")
    assert later["empty"] is True

    for query, field in [
        ("per_page=0", "query.per_page"),
        ("page=0", "query.page"),
        ("taxonomy_term_id=cmpp", "query.taxonomy_term_id"),
        ("search=a%00b", "query.search"),
    ]:
        r = await h.http.get(f"/hsds/pre-76540/services?{query}", headers=h.auth("referent"))
        assert r.status_code == 422, query
        assert r.json()["errors"][0]["field"] == field


async def test_the_hsds_api_is_for_the_pre_members_unless_the_pre_makes_it_public(
    parcours: Harness,
) -> None:
    h = parcours
    ids = await directory(h)
    anonymous = await h.http.get("/hsds/pre-76540/organizations")
    assert anonymous.status_code == 401
    assert "jeton" in anonymous.json()["message"]
    assert (
        await h.http.get("/hsds/pre-76540/services", headers=h.auth("institution"))
    ).status_code == 403
    elsewhere = h.auth("coordinator", tenant=h.other_tenant)
    assert (await h.http.get("/hsds/pre-76540/services", headers=elsewhere)).status_code == 403
    partner = await read(h, "/organizations", headers=h.auth("partner", "clas-saint-sever"))
    assert partner["total_items"] == 3

    refused = await h.http.put(
        "/v1/directory/settings", json={"hsds_read": "public"}, headers=h.auth("referent")
    )
    assert refused.status_code == 403
    r = await h.http.put(
        "/v1/directory/settings", json={"hsds_read": "public"}, headers=h.auth("coordinator")
    )
    assert r.status_code == 200, r.text
    public = await h.http.get(f"/hsds/pre-76540/organizations/{ids['cmpp-rouen']}")
    assert public.status_code == 200
    assert schema_problems(public.json(), "organization") == []
    assert public.json()["contacts"] == []
    assert public.json()["services"][0]["contacts"] == []
    # Another PRE's directory stays closed, and neither shows the other's partners.
    other = await h.http.get(f"/hsds/{h.other_tenant}/organizations/{ids['cmpp-rouen']}")
    assert other.status_code == 401
    theirs = {"id": "cmp-caen", "pre_id": h.other_tenant, "name": "CMP Caen", "category": "cmp"}
    elsewhere_admin = h.auth("admin", tenant=h.other_tenant)
    put = await h.http.put("/v1/partners/cmp-caen", json=theirs, headers=elsewhere_admin)
    assert put.status_code == 200, put.text
    listed = (await h.http.get("/hsds/pre-76540/organizations")).json()
    assert "CMP Caen" not in {o["name"] for o in listed["contents"]}
    assert listed["total_items"] == 3
    assert (await h.http.get("/hsds/pre-76540/services?search=Caen")).json()["empty"] is True
    mine = await h.http.get(f"/hsds/{h.other_tenant}/organizations", headers=elsewhere_admin)
    assert [o["name"] for o in mine.json()["contents"]] == ["CMP Caen"]


async def test_a_public_directory_shows_nothing_of_the_children_nor_of_contacts(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    await directory(h)
    assert (await h.hand_over(s)).status_code == 201
    await h.http.put(
        "/v1/directory/settings", json={"hsds_read": "public"}, headers=h.auth("coordinator")
    )
    seen = []
    for path in ["/organizations", "/services", "/service_at_locations?full=true"]:
        r = await h.http.get(f"/hsds/pre-76540{path}")
        seen.append(r.text)
        for item in r.json()["contents"]:
            kind = path.split("?")[0].rstrip("s")
            detail = await h.http.get(f"/hsds/pre-76540{kind}s/{item['id']}")
            seen.append(detail.text)
    text = "\n".join(seen)
    child, guardian = h.identity["child"], h.identity["guardians"][0]
    for secret in [
        child["first_name"],
        child["last_name"],
        child["birth_date"],
        guardian["phone"],
        h.identity["description"],
        "Merci de proposer un rendez-vous.",
        str(s["situation_id"]),
        "Secrétariat",
        "02 35 00 00 00",
    ]:
        assert secret not in text, secret
