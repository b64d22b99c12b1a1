"""The partner directory over HTTP: entries recorded, exported and read in HSDS 3 terms."""

from __future__ import annotations

from typing import Any

import pytest

from .checks import Harness
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
