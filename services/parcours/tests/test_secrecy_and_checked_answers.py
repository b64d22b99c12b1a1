"""Secret partagé in what people read back, and answers checked against what they refer to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .checks import CMPP, Harness, field_error, today


async def test_a_referent_reads_the_team_note_only_on_their_own_situations(
    parcours: Harness,
) -> None:
    h = parcours
    coordinator = h.auth("coordinator")
    _, camille_s = await h.open_situation()
    _, other_s = await h.open_situation()
    meeting = await h.http.post(
        "/v1/reviews",
        json={
            "meets_on": str(today()),
            "attendees": [{"name": "Mme Leroy", "organisation": "PRE"}],
            "situation_ids": [camille_s, other_s],
        },
        headers=coordinator,
    )
    assert meeting.status_code == 201, meeting.text
    url = f"/v1/reviews/{meeting.json()['id']}"
    for situation_id, note in ((camille_s, "Père très inquiet"), (other_s, "Suivi CMP en cours")):
        r = await h.http.post(
            f"{url}/decisions",
            json={
                "situation_id": situation_id,
                "decision": "take_up",
                "axes": ["health"],
                "note": note,
            },
            headers=coordinator,
        )
        assert r.status_code == 201, r.text
    for situation_id, sub in ((camille_s, "camille"), (other_s, "lucas")):
        referent_id = await h.add_referent(sub)
        r = await h.http.put(
            f"/v1/situations/{situation_id}/referent",
            json={"referent_id": referent_id},
            headers=coordinator,
        )
        assert r.status_code == 200, r.text

    def notes(body: dict[str, Any]) -> dict[str, Any]:
        return {item["situation_id"]: item["note"] for item in body["agenda"]}

    camille = (await h.http.get(url, headers=h.auth("referent", sub="camille"))).json()
    assert notes(camille) == {camille_s: "Père très inquiet", other_s: None}
    assert [i["decision"] for i in camille["agenda"]] == ["take_up", "take_up"]
    stranger = (await h.http.get(url, headers=h.auth("referent", sub="not-registered"))).json()
    assert notes(stranger) == {camille_s: None, other_s: None}
    team = (await h.http.get(url, headers=coordinator)).json()
    assert notes(team) == {camille_s: "Père très inquiet", other_s: "Suivi CMP en cours"}


async def test_once_consent_ends_a_partner_keeps_only_the_bare_handover(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    partner = h.auth("partner", CMPP)
    referent = h.auth("referent", sub="referente-1")
    waiting = (await h.hand_over(s)).json()
    r = await h.http.post(
        f"/v1/handovers/{waiting['id']}/waitlisting",
        json={"expected_start_on": "2027-03-01"},
        headers=partner,
    )
    assert r.status_code == 200, r.text
    assert r.json()["action_title"] == "Bilan psychomoteur"  # while the consent covers it
    # A second action, run and completed by the CMPP before the family withdraws.
    objective = await h.http.post(
        f"/v1/situations/{s['situation_id']}/plan/objectives",
        json={"axis": "health", "title": "Suivi"},
        headers=referent,
    )
    action = await h.http.post(
        f"/v1/situations/{s['situation_id']}/plan/objectives/{objective.json()['id']}/actions",
        json={"title": "Séances de psychomotricité"},
        headers=referent,
    )
    done = (await h.hand_over({**s, "action_id": action.json()["id"]})).json()
    for step, body in (("acceptance", {}), ("completion", {"outcome": "achieved"})):
        r = await h.http.post(f"/v1/handovers/{done['id']}/{step}", json=body, headers=partner)
        assert r.status_code == 200, r.text

    r = await h.http.post(
        f"/v1/situations/{s['situation_id']}/consents/{s['consent_id']}/withdrawal",
        json={"guardian": "Mère"},
        headers=referent,
    )
    assert r.status_code == 200, r.text

    withheld = {"action_id", "axis", "action_title", "referent_id", "data_categories"}
    page = (await h.http.get("/v1/handovers", headers=partner)).json()["items"]
    by_id = {item["id"]: item for item in page}
    assert set(by_id) == {waiting["id"], done["id"]}
    for item in by_id.values():
        assert {k for k in withheld if item[k] is not None} == set(), item
        assert item["situation_id"] is None
        assert item["requested_at"] is not None
    assert "psycho" not in str(page).lower()
    cancelled = by_id[waiting["id"]]
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "consent_withdrawn")
    assert cancelled["ended_at"] is not None
    assert cancelled["expected_start_on"] == "2027-03-01"
    assert (by_id[done["id"]]["status"], by_id[done["id"]]["outcome"]) == ("completed", "achieved")
    detail = await h.http.get(f"/v1/handovers/{waiting['id']}", headers=partner)
    assert detail.status_code == 200
    assert detail.json() == cancelled
    # The PRE team still reads its own file in full.
    team = (await h.http.get(f"/v1/handovers/{waiting['id']}", headers=referent)).json()
    assert (team["action_title"], team["axis"]) == ("Bilan psychomoteur", "health")
    assert team["data_categories"] == ["health", "identity_and_contact"]


async def test_only_a_guardian_who_gave_the_consent_can_withdraw_it(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()  # consent given by « Mère » and « Père »
    handover = (await h.hand_over(s)).json()
    referent = h.auth("referent", sub="referente-1")
    url = f"/v1/situations/{s['situation_id']}/consents/{s['consent_id']}/withdrawal"
    unknown = await h.http.post(url, json={"guardian": "Grand-mère"}, headers=referent)
    error = field_error(unknown)
    assert (error["field"], error["code"]) == ("guardian", "guardian_unknown")
    assert "« Mère »" in error["message"]
    assert "« Père »" in error["message"]
    assert "autorité parentale" in error["message"]
    ledger = f"/v1/situations/{s['situation_id']}/consents"
    [still] = (await h.http.get(ledger, headers=referent)).json()
    assert still["status"] == "active"
    assert h.count("consent.withdrawn") == 0
    partner = h.auth("partner", CMPP)
    assert (
        await h.http.get(f"/v1/handovers/{handover['id']}/sheet", headers=partner)
    ).status_code == 200

    ok = await h.http.post(url, json={"guardian": " père"}, headers=referent)
    assert ok.status_code == 200, ok.text
    [withdrawn] = (await h.http.get(ledger, headers=referent)).json()
    assert (withdrawn["status"], withdrawn["withdrawn_by"]) == ("withdrawn", "Père")


async def test_a_partner_cannot_date_a_start_before_the_handover_was_requested(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()  # requested today
    partner = h.auth("partner", CMPP)
    url = f"/v1/handovers/{handover['id']}"
    yesterday = str(today() - timedelta(days=1))
    early_wait = await h.http.post(
        f"{url}/waitlisting", json={"expected_start_on": yesterday}, headers=partner
    )
    error = field_error(early_wait)
    assert (error["field"], error["code"]) == ("expected_start_on", "date_before_request")
    assert today().strftime("%d/%m/%Y") in error["message"]
    assert "précéder la demande" in error["message"]
    early_start = await h.http.post(
        f"{url}/acceptance", json={"starts_on": yesterday}, headers=partner
    )
    error = field_error(early_start)
    assert (error["field"], error["code"]) == ("starts_on", "date_before_request")
    assert (await h.http.get(url, headers=partner)).json()["status"] == "requested"
    assert h.count("handover.waitlisted") + h.count("handover.accepted") == 0

    waiting = await h.http.post(
        f"{url}/waitlisting", json={"expected_start_on": str(today())}, headers=partner
    )
    assert waiting.status_code == 200, waiting.text
    accepted = await h.http.post(
        f"{url}/acceptance", json={"starts_on": str(today())}, headers=partner
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["starts_on"] == str(today())


async def test_rules_across_fields_name_the_field_to_fill_in(parcours: Harness) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    alone = await h.give_consent(
        situation_id, [], guardians=[{"label": "Mère", "relationship": "mother"}]
    )
    error = field_error(alone)
    assert (error["field"], error["code"]) == (
        "sole_guardian_reason",
        "sole_guardian_reason_required",
    )
    oral = field_error(await h.give_consent(situation_id, [], form="oral_witnessed"))
    assert (oral["field"], oral["code"]) == ("witness", "witness_required")
    both = await h.give_consent(
        situation_id,
        [],
        form="oral_witnessed",
        guardians=[{"label": "Mère", "relationship": "mother"}],
        sole_guardian_reason="Père injoignable",
        witness="Mme Leroy, coordinatrice",
    )
    assert both.status_code == 201, both.text

    referent = h.auth("referent", sub="referente-1")
    base = f"/v1/situations/{situation_id}/plan"
    objective = await h.http.post(
        f"{base}/objectives", json={"axis": "schooling", "title": "Lecture"}, headers=referent
    )
    backwards = await h.http.post(
        f"{base}/objectives/{objective.json()['id']}/actions",
        json={"title": "Atelier lecture", "starts_on": "2026-12-10", "ends_on": "2026-12-01"},
        headers=referent,
    )
    error = field_error(backwards)
    assert (error["field"], error["code"]) == ("ends_on", "ends_before_start")
    assert "précède" in error["message"]


async def test_team_decisions_scope_and_closure_rules_name_their_field(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    decline = field_error(await h.decide(situation_id, decision="decline"))
    assert (decline["field"], decline["code"]) == ("decline_reason", "decline_reason_required")
    no_axes = field_error(await h.decide(situation_id, decision="take_up"))
    assert (no_axes["field"], no_axes["code"]) == ("axes", "axes_required")
    half = field_error(await h.decide(situation_id, decision="redirect", redirected_to="CMPP"))
    assert (half["field"], half["code"]) == ("redirect_category", "redirect_target_required")
    stray = field_error(
        await h.decide(situation_id, decision="take_up", axes=["health"], decline_reason="other")
    )
    assert (stray["field"], stray["code"]) == ("decline_reason", "decline_reason_unexpected")

    assert (await h.decide(situation_id)).status_code == 201
    referent_id = await h.add_referent("referente-1")
    r = await h.http.put(
        f"/v1/situations/{situation_id}/referent",
        json={"referent_id": referent_id},
        headers=h.auth("coordinator"),
    )
    assert r.status_code == 200, r.text
    both = [
        {"partner_id": CMPP, "partner_category": "cmpp", "data_categories": ["health"]},
    ]
    scope = field_error(await h.give_consent(situation_id, both))
    assert (scope["field"], scope["code"]) == ("scope.0.partner_category", "scope_target")
    closure = await h.http.post(
        f"/v1/situations/{situation_id}/closure",
        json={"exit_reason": "other", "final_review_held": True},
        headers=h.auth("referent", sub="referente-1"),
    )
    error = field_error(closure)
    assert (error["field"], error["code"]) == ("exit_reason_text", "exit_reason_text")
