"""Input PostgreSQL cannot store or compare gets a 422 naming its field, never a 500."""

from __future__ import annotations

import uuid

from .checks import CMPP, Harness, field_error, today


async def test_an_offset_beyond_any_page_is_refused_on_its_field(parcours: Harness) -> None:
    h = parcours
    # Larger than PostgreSQL's bigint: used to reach the database and give a 500.
    for path in ["/v1/situations", "/v1/reviews", "/v1/referents", "/v1/partners", "/v1/handovers"]:
        r = await h.http.get(f"{path}?offset={2**70}", headers=h.auth("coordinator"))
        error = field_error(r)
        assert (error["field"], error["code"]) == ("query.offset", "less_than_equal"), path


async def test_a_nul_character_in_a_body_is_refused_on_its_field(parcours: Harness) -> None:
    h = parcours
    await h.add_partner(CMPP)
    coordinator = h.auth("coordinator")
    partner = {"id": CMPP, "pre_id": "pre-76540", "name": "CMPP\u0000", "category": "cmpp"}
    named = await h.http.put(f"/v1/partners/{CMPP}", json=partner, headers=coordinator)
    assert (field_error(named)["field"], field_error(named)["code"]) == ("name", "nul_character")
    assert "caractère nul" in field_error(named)["message"]

    nested = partner | {"name": "CMPP", "contacts": [{"id": "accueil", "name": "A\u0000"}]}
    r = await h.http.put(f"/v1/partners/{CMPP}", json=nested, headers=coordinator)
    assert field_error(r)["field"] == "contacts.0.name"

    meeting = await h.http.post(
        "/v1/reviews", json={"meets_on": today().isoformat()}, headers=coordinator
    )
    assert meeting.status_code == 201, meeting.text
    patched = await h.http.patch(
        f"/v1/reviews/{meeting.json()['id']}",
        json={"attendees": [{"name": "Mme\u0000", "organisation": "CMPP"}]},
        headers=coordinator,
    )
    assert field_error(patched)["field"] == "attendees.0.name"

    referent = await h.http.put(
        f"/v1/referents/{uuid.uuid4()}",
        json={"user_sub": "referente\u0000", "display_name": "Référente"},
        headers=coordinator,
    )
    assert field_error(referent)["field"] == "user_sub"


async def test_a_partner_id_that_is_not_a_slug_is_refused_on_its_field(parcours: Harness) -> None:
    h = parcours
    for path in ["/v1/partners/a%00b", f"/v1/partners/{'x' * 5000}/hsds"]:
        error = field_error(await h.http.get(path, headers=h.auth("coordinator")))
        assert error["field"] == "path.partner_id", path
