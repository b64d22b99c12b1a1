"""Partners keep their own entry; a coordinator validates each change before it is published."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from .checks import Harness
from .hsds_schema import problems as schema_problems
from .test_directory_hsds_api import CMPP_ENTRY

pytestmark = pytest.mark.integration

CMPP = "cmpp-rouen"


async def recorded(h: Harness) -> None:
    r = await h.http.put(f"/v1/partners/{CMPP}", json=CMPP_ENTRY, headers=h.auth("coordinator"))
    assert r.status_code == 200, r.text


async def published(h: Harness) -> dict[str, Any]:
    r = await h.http.get(f"/v1/partners/{CMPP}", headers=h.auth("coordinator"))
    return dict(r.json())


async def test_a_partner_proposes_a_change_a_coordinator_approves_and_it_is_published(
    parcours: Harness,
) -> None:
    h = parcours
    await recorded(h)
    partner = h.auth("partner", CMPP)
    services = copy.deepcopy(CMPP_ENTRY["services"])
    services[0]["schedules"] = [{"byday": ["TU"], "opens_at": "14:00", "closes_at": "18:00"}]
    proposal = {"description": "Bilans et soins, de 3 à 18 ans.", "services": services}
    r = await h.http.post(f"/v1/partners/{CMPP}/changes", json=proposal, headers=partner)
    assert r.status_code == 201, r.text
    change = r.json()
    assert (change["status"], change["parts"]) == ("pending", ["description", "services"])
    proposed = await h.event("partner.change_proposed", change_id=change["id"])
    assert proposed["data"]["parts"] == ["description", "services"]
    assert "Bilans et soins" not in json.dumps(proposed)
    assert (await published(h)).get("description") is None  # not before the coordinator says so

    wait = await h.http.put(
        f"/v1/partners/{CMPP}/services/bilan/wait-time",
        json={"wait_time": "environ 5 mois", "wait_time_days": 150},
        headers=partner,
    )
    assert wait.status_code == 201, wait.text
    latest = wait.json()
    assert latest["proposed"]["description"] == "Bilans et soins, de 3 à 18 ans."  # kept
    replaced = await h.event("partner.change_proposed", change_id=latest["id"])
    assert replaced["data"]["replaces_change_id"] == change["id"]

    coordinator = h.auth("coordinator")
    pending = (await h.http.get("/v1/directory/changes?status=pending", headers=coordinator)).json()
    assert [c["id"] for c in pending] == [latest["id"]]
    detail = (await h.http.get(f"/v1/directory/changes/{latest['id']}", headers=coordinator)).json()
    assert detail["published"]["services"][0]["wait_time_days"] == 240
    assert detail["proposed"]["services"][0]["wait_time_days"] == 150

    r = await h.http.post(f"/v1/directory/changes/{latest['id']}/approval", headers=coordinator)
    assert r.status_code == 204, r.text
    entry = await published(h)
    assert entry["description"] == "Bilans et soins, de 3 à 18 ans."
    assert entry["services"][0]["wait_time"] == "environ 5 mois"
    assert entry["services"][0]["schedules"][0]["byday"] == ["TU"]
    event = await h.event("partner.entry_published", change_id=latest["id"])
    data = event["data"]
    assert (data["origin"], data["entry_version"], data["parts"]) == (
        "change_approved",
        2,
        ["description", "services"],
    )
    assert data["services"][0]["wait_time_days"] == 150
    assert event["sequence"] == 2
    hsds = (await h.http.get(f"/v1/partners/{CMPP}/hsds", headers=partner)).json()
    assert schema_problems(hsds, "organization") == []
    assert hsds["services"][0]["relais_wait_time_days"] == 150
    mine = (await h.http.get(f"/v1/partners/{CMPP}/changes", headers=partner)).json()
    assert {c["id"]: c["status"] for c in mine} == {
        change["id"]: "superseded",
        latest["id"]: "approved",
    }
    again = await h.http.post(f"/v1/directory/changes/{latest['id']}/approval", headers=coordinator)
    assert (again.status_code, again.json()["code"]) == (409, "change_not_pending")


async def test_a_rejected_change_leaves_the_entry_and_the_partner_reads_why(
    parcours: Harness,
) -> None:
    h = parcours
    await recorded(h)
    partner = h.auth("partner", CMPP)
    r = await h.http.post(
        f"/v1/partners/{CMPP}/changes", json={"email": "contact@cmpp.example"}, headers=partner
    )
    change = r.json()
    reason = "Adresse non vérifiée : appelez-nous pour la confirmer."
    refused = await h.http.post(
        f"/v1/directory/changes/{change['id']}/rejection",
        json={"reason": reason},
        headers=h.auth("coordinator"),
    )
    assert refused.status_code == 204, refused.text
    assert (await published(h))["email"] == "accueil@cmpp.example"
    [mine] = (await h.http.get(f"/v1/partners/{CMPP}/changes", headers=partner)).json()
    assert (mine["status"], mine["reason"]) == ("rejected", reason)
    event = await h.event("partner.change_rejected", change_id=change["id"])
    assert reason not in json.dumps(event)  # the coordinator's words stay in parcours


async def test_a_change_made_on_an_older_version_cannot_be_approved_as_is(
    parcours: Harness,
) -> None:
    h = parcours
    await recorded(h)
    r = await h.http.post(
        f"/v1/partners/{CMPP}/changes",
        json={"description": "Nouvelle"},
        headers=h.auth("partner", CMPP),
    )
    renamed = {**CMPP_ENTRY, "name": "CMPP Rouen — rive gauche"}
    assert (
        await h.http.put(f"/v1/partners/{CMPP}", json=renamed, headers=h.auth("admin"))
    ).status_code == 200
    late = await h.http.post(
        f"/v1/directory/changes/{r.json()['id']}/approval", headers=h.auth("coordinator")
    )
    assert (late.status_code, late.json()["code"]) == (409, "entry_changed_since")
    assert "modifiée depuis" in late.json()["message"]
    assert (await published(h))["description"] is None


async def test_a_partner_proposes_only_for_itself_what_it_may_change(parcours: Harness) -> None:
    h = parcours
    await recorded(h)
    own = h.auth("partner", CMPP)
    other = await h.http.post(
        f"/v1/partners/{CMPP}/changes", json={"description": "x"}, headers=h.auth("partner", "clas")
    )
    assert other.status_code == 404
    assert (
        await h.http.get(f"/v1/partners/{CMPP}/changes", headers=h.auth("partner", "clas"))
    ).status_code == 404
    rename = await h.http.post(f"/v1/partners/{CMPP}/changes", json={"name": "Autre"}, headers=own)
    assert (rename.status_code, rename.json()["errors"][0]["field"]) == (422, "name")
    referent = await h.http.post(
        f"/v1/partners/{CMPP}/changes", json={"description": "x"}, headers=h.auth("referent")
    )
    assert referent.status_code == 403
    same = await h.http.post(
        f"/v1/partners/{CMPP}/changes", json={"email": "accueil@cmpp.example"}, headers=own
    )
    assert (same.status_code, same.json()["code"]) == (422, "nothing_changed")
    services = copy.deepcopy(CMPP_ENTRY["services"])
    services[0]["location_ids"] = ["ailleurs"]
    wrong = await h.http.post(
        f"/v1/partners/{CMPP}/changes", json={"services": services}, headers=own
    )
    assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (
        422,
        "services.0.location_ids",
    )
    unknown = await h.http.put(
        f"/v1/partners/{CMPP}/services/inconnu/wait-time", json={"wait_time_days": 3}, headers=own
    )
    assert unknown.status_code == 404
    r = await h.http.post(f"/v1/partners/{CMPP}/changes", json={"description": "Ok"}, headers=own)
    approve = await h.http.post(f"/v1/directory/changes/{r.json()['id']}/approval", headers=own)
    assert approve.status_code == 403


async def test_every_publication_of_an_entry_is_an_event_and_a_same_entry_is_none(
    parcours: Harness,
) -> None:
    h = parcours
    await recorded(h)
    created = await h.event("partner.entry_published", partner_id=CMPP)
    assert (
        created["data"]["origin"],
        created["data"]["entry_version"],
        created["data"]["parts"],
    ) == (
        "recorded",
        1,
        [],
    )
    await recorded(h)  # the same entry again: no new version
    changed = {**CMPP_ENTRY, "description": "Centre médico-psycho-pédagogique"}
    assert (
        await h.http.put(f"/v1/partners/{CMPP}", json=changed, headers=h.auth("admin"))
    ).status_code == 200
    second = await h.event("partner.entry_published", partner_id=CMPP, entry_version=2)
    assert second["data"]["parts"] == ["description"]
    assert h.count("partner.entry_published") == 2
    assert "Centre médico" not in json.dumps(second)
