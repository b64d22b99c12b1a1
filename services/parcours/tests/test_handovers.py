"""Handovers to partners: consent-scoped requests, answers, the sheet and its ledger."""

from __future__ import annotations

from .conftest import Harness

CMPP = "cmpp-rouen"


async def test_a_partner_accepts_reads_its_sheet_within_consent_and_completes(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    r = await h.hand_over(s)
    assert r.status_code == 201, r.text
    handover = r.json()
    requested = await h.event("handover.requested", handover_id=handover["id"])
    detail = (
        await h.http.get(f"/v1/situations/{s['situation_id']}", headers=h.auth("coordinator"))
    ).json()
    assert detail["consent_id"] == s["consent_id"]
    assert detail["open_handovers"] == 1
    assert requested["data"]["partner_category"] == "cmpp"
    partner = h.auth("partner", CMPP)
    listed = (await h.http.get("/v1/handovers", headers=partner)).json()["items"]
    assert [i["id"] for i in listed] == [handover["id"]]
    assert listed[0]["situation_id"] is None
    url = f"/v1/handovers/{handover['id']}"
    accepted = await h.http.post(
        f"{url}/acceptance", json={"starts_on": "2026-12-07"}, headers=partner
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    await h.event("handover.accepted", handover_id=handover["id"])

    plan = (
        await h.http.get(f"/v1/situations/{s['situation_id']}/plan", headers=h.auth("coordinator"))
    ).json()
    assert plan["objectives"][0]["actions"][0]["status"] == "in_progress"
    sheet = (await h.http.get(f"{url}/sheet", headers=partner)).json()
    assert sheet["data_categories"] == ["health", "identity_and_contact"]
    assert sheet["identity"]["child"]["last_name"] == "Benaliouche"
    assert "referrer" not in sheet["identity"]
    assert "schooling" not in sheet
    assert sheet["action"]["title"] == "Bilan psychomoteur"

    ledger = (
        await h.http.get(
            f"/v1/situations/{s['situation_id']}/disclosures", headers=h.auth("coordinator")
        )
    ).json()
    assert len(ledger) == 1
    assert ledger[0]["partner_id"] == CMPP
    assert ledger[0]["data_categories"] == ["health", "identity_and_contact"]

    done = await h.http.post(f"{url}/completion", json={"outcome": "achieved"}, headers=partner)
    assert done.json()["status"] == "completed"
    completed = await h.event("handover.completed", handover_id=handover["id"])
    assert completed["data"]["outcome"] == "achieved"
    closed = await h.http.get(f"{url}/sheet", headers=partner)
    assert closed.status_code == 403
    plan = (
        await h.http.get(
            f"/v1/situations/{s['situation_id']}/plan",
            headers=h.auth("referent", sub="referente-1"),
        )
    ).json()
    assert plan["objectives"][0]["actions"][0]["status"] == "done"
    updated = await h.event(
        "plan.updated", situation_id=s["situation_id"], plan_version=plan["plan_version"]
    )
    assert updated["data"]["axes"][0]["actions"]["done"] == 1


async def test_sharing_beyond_the_consent_is_refused_in_french(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    r = await h.hand_over(s, categories=["identity_and_contact", "health", "family_situation"])
    assert r.status_code == 403
    assert r.json()["code"] == "consent_scope_exceeded"
    assert "situation familiale" in r.json()["message"]
    other = await h.hand_over(s, partner_id="clas-saint-sever", categories=["schooling"])
    assert other.status_code == 403
    assert "CLAS" in other.json()["message"] or "clas" in other.json()["message"]


async def test_withdrawn_consent_cancels_open_handovers_and_cuts_the_partner_off(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    partner = h.auth("partner", CMPP)
    url = f"/v1/handovers/{handover['id']}"
    await h.http.post(
        f"{url}/waitlisting", json={"expected_start_on": "2027-03-01"}, headers=partner
    )
    assert (await h.http.get(f"{url}/sheet", headers=partner)).status_code == 200
    r = await h.http.post(
        f"/v1/situations/{s['situation_id']}/consents/{s['consent_id']}/withdrawal",
        json={"guardian": "Père"},
        headers=h.auth("referent", sub="referente-1"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["partners_cut_off"] == [CMPP]
    cancelled = await h.event("handover.cancelled", handover_id=handover["id"])
    assert cancelled["data"]["reason"] == "consent_withdrawn"
    withdrawn = await h.event("consent.withdrawn", consent_id=s["consent_id"])
    assert withdrawn["data"]["partner_ids"] == [CMPP]
    refused = await h.http.get(f"{url}/sheet", headers=partner)
    assert refused.status_code == 403
    assert "annulé" in refused.json()["message"]
    again = await h.hand_over(s)
    assert again.status_code == 403
    assert "consentement" in again.json()["message"]


async def test_a_narrower_consent_cuts_off_what_it_no_longer_covers(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s, categories=["identity_and_contact", "health"])).json()
    narrower = await h.give_consent(
        s["situation_id"], [{"partner_id": CMPP, "data_categories": ["health"]}]
    )
    assert narrower.status_code == 201
    cancelled = await h.event("handover.cancelled", handover_id=handover["id"])
    assert cancelled["data"]["reason"] == "consent_withdrawn"


async def test_partners_only_see_and_answer_their_own_handovers(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    other = h.auth("partner", "clas-saint-sever")
    url = f"/v1/handovers/{handover['id']}"
    assert (await h.http.get(url, headers=other)).status_code == 404
    assert (await h.http.get(f"{url}/sheet", headers=other)).status_code == 404
    assert (await h.http.post(f"{url}/acceptance", json={}, headers=other)).status_code == 404
    assert (await h.http.get("/v1/handovers", headers=other)).json()["items"] == []
    own = h.auth("partner", CMPP)
    refused = await h.http.post(f"{url}/refusal", json={"reason": "no_capacity"}, headers=own)
    assert refused.json()["status"] == "declined"
    late = await h.http.post(f"{url}/acceptance", json={}, headers=own)
    assert late.status_code == 409
    assert "refusé" in late.json()["message"]
    assert (await h.http.get(f"/v1/situations/{s['situation_id']}", headers=own)).status_code == 403


async def test_a_partner_reads_only_the_action_and_its_axis_until_it_accepts(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    partner = h.auth("partner", CMPP)
    url = f"/v1/handovers/{handover['id']}"

    before = await h.http.get(f"{url}/sheet", headers=partner)
    assert before.status_code == 200, before.text
    sheet = before.json()
    assert sheet["complete"] is False
    assert sheet["action"] == {"axis": "health", "title": "Bilan psychomoteur"}
    for secret in ("identity", "message", "referent", "health", "data_categories"):
        assert secret not in sheet
    assert "Benaliouche" not in before.text
    assert "rendez-vous" not in before.text
    view = (await h.http.get(url, headers=partner)).json()
    assert (view["axis"], view["action_title"]) == ("health", "Bilan psychomoteur")
    assert view["referent_id"] is None
    assert view["data_categories"] is None
    # Nothing consent-scoped was disclosed: the ledger stays empty.
    ledger = f"/v1/situations/{s['situation_id']}/disclosures"
    assert (await h.http.get(ledger, headers=h.auth("coordinator"))).json() == []

    # Waitlisted is not accepted either.
    waitlisted = await h.http.post(
        f"{url}/waitlisting", json={"expected_start_on": "2027-03-01"}, headers=partner
    )
    assert waitlisted.status_code == 200, waitlisted.text
    assert (await h.http.get(f"{url}/sheet", headers=partner)).json()["complete"] is False

    accepted = await h.http.post(f"{url}/acceptance", json={}, headers=partner)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["data_categories"] == ["health", "identity_and_contact"]
    full = (await h.http.get(f"{url}/sheet", headers=partner)).json()
    assert full["complete"] is True
    assert full["identity"]["child"]["last_name"] == "Benaliouche"
    assert full["message"] == "Merci de proposer un rendez-vous."
    assert len((await h.http.get(ledger, headers=h.auth("coordinator"))).json()) == 1
