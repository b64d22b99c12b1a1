"""Team review (EPS) decisions and référents' caseloads."""

from __future__ import annotations

from .checks import today
from .conftest import Harness


async def test_a_take_up_decision_records_attendees_and_emits_review_decided(
    parcours: Harness,
) -> None:
    h = parcours
    referral, situation_id = await h.open_situation()
    r = await h.decide(
        situation_id, decision="take_up", axes=["health", "schooling"], note="Famille demandeuse"
    )
    assert r.status_code == 201, r.text
    event = await h.event("review.decided", situation_id=situation_id)
    assert event["data"]["decision"] == "take_up"
    assert event["data"]["referral_ids"] == [str(referral.referral_id)]
    assert event["data"]["axes"] == ["health", "schooling"]
    detail = (
        await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))
    ).json()
    assert detail["stage"] == "in_parcours"
    assert detail["started_on"] is not None
    meetings = (await h.http.get("/v1/reviews", headers=h.auth("coordinator"))).json()
    meeting = (
        await h.http.get(f"/v1/reviews/{meetings[0]['id']}", headers=h.auth("coordinator"))
    ).json()
    assert meeting["attendees"][0]["name"] == "Mme Leroy"
    assert meeting["agenda"][0]["decision"] == "take_up"
    assert meeting["agenda"][0]["note"] == "Famille demandeuse"
    assert "demandeuse" not in str(h.seen)
    again = await h.decide(situation_id, decision="take_up", axes=["health"])
    assert again.status_code == 409


async def test_redirect_and_decline_need_their_reason_in_french(parcours: Harness) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    missing = await h.decide(situation_id, decision="decline")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "decline_reason_required"
    assert "motif" in missing.json()["errors"][0]["message"]
    r = await h.decide(
        situation_id,
        decision="redirect",
        redirected_to="CMPP Rouen rive gauche",
        redirect_category="cmpp",
    )
    assert r.status_code == 201, r.text
    event = await h.event("review.decided", situation_id=situation_id)
    assert event["data"]["redirect_category"] == "cmpp"


async def test_a_referent_cannot_decide_for_the_team(parcours: Harness) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    r = await h.http.post(
        "/v1/reviews",
        json={"meets_on": str(today()), "situation_ids": [situation_id]},
        headers=h.auth("referent"),
    )
    assert r.status_code == 403


async def test_a_full_caseload_needs_a_recorded_coordinator_override(parcours: Harness) -> None:
    h = parcours
    _, first, referent_id = await h.in_parcours()
    await h.event("referent.assigned", situation_id=first)
    await h.http.put(
        f"/v1/referents/{referent_id}",
        json={"user_sub": "referente-1", "display_name": "Référente 1", "caseload_limit": 1},
        headers=h.auth("coordinator"),
    )
    _, second = await h.open_situation()
    await h.decide(second)
    url = f"/v1/situations/{second}/referent"
    refused = await h.http.put(
        url, json={"referent_id": referent_id}, headers=h.auth("coordinator")
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "caseload_full"
    assert "limite de 1" in refused.json()["message"]
    forced = await h.http.put(
        url,
        json={"referent_id": referent_id, "override_reason": "Fratrie déjà suivie"},
        headers=h.auth("coordinator"),
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()[0]["over_limit"] is True
    assert forced.json()[0]["override_reason"] == "Fratrie déjà suivie"
    listed = (await h.http.get("/v1/referents", headers=h.auth("coordinator"))).json()
    assert listed[0]["caseload"] == 2


async def test_reassignment_keeps_the_history_and_moves_access(parcours: Harness) -> None:
    h = parcours
    _, situation_id, first = await h.in_parcours("referente-1")
    mine = await h.http.get(
        f"/v1/situations/{situation_id}", headers=h.auth("referent", sub="referente-1")
    )
    assert mine.status_code == 200
    second = await h.add_referent("referent-2")
    r = await h.http.put(
        f"/v1/situations/{situation_id}/referent",
        json={"referent_id": second},
        headers=h.auth("coordinator"),
    )
    history = r.json()
    assert [a["referent_id"] for a in history] == [first, second]
    assert history[0]["ended_at"] is not None
    assert history[1]["ended_at"] is None
    event = await h.event("referent.assigned", referent_id=second)
    assert event["data"]["previous_referent_id"] == first
    gone = await h.http.get(
        f"/v1/situations/{situation_id}", headers=h.auth("referent", sub="referente-1")
    )
    assert gone.status_code == 403
    assert gone.json()["code"] == "not_your_situation"
    inbox = (
        await h.http.get("/v1/situations", headers=h.auth("referent", sub="referent-2"))
    ).json()
    assert [s["id"] for s in inbox["items"]] == [situation_id]


async def test_a_referent_reading_a_situation_nobody_follows_yet_is_told_so(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    await h.add_referent("referente-1")
    r = await h.http.get(
        f"/v1/situations/{situation_id}", headers=h.auth("referent", sub="referente-1")
    )
    assert r.status_code == 403
    assert r.json()["code"] == "situation_not_assigned"
    assert "Aucun·e référent·e n'est encore désigné·e" in r.json()["message"]
    assert "autre référent" not in r.json()["message"]


async def test_registering_a_referent_tells_which_login_it_signs_in_with(
    parcours: Harness,
) -> None:
    h = parcours
    referent_id = await h.add_referent("camille.idp-42")
    first = await h.event("referent.registered", referent_id=referent_id)
    assert first["data"]["user_sub"] == "camille.idp-42"
    assert first["sequence"] == 1
    r = await h.http.put(
        f"/v1/referents/{referent_id}",
        json={"user_sub": "camille-2027", "display_name": "Camille"},
        headers=h.auth("coordinator"),
    )
    assert r.status_code == 200, r.text
    second = await h.event("referent.registered", user_sub="camille-2027")
    assert (second["data"]["referent_id"], second["sequence"]) == (referent_id, 2)
    spaced = await h.http.put(
        f"/v1/referents/{referent_id}",
        json={"user_sub": "camille 2027", "display_name": "Camille"},
        headers=h.auth("coordinator"),
    )
    assert spaced.status_code == 422
    assert spaced.json()["errors"][0]["field"] == "user_sub"
