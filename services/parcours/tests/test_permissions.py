"""Each role sees and does only what it may, within its own PRE."""

from __future__ import annotations

from .conftest import Harness


async def test_roles_outside_the_team_cannot_reach_the_team_routes(parcours: Harness) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    for role, org in (
        ("analyst", "anct"),
        ("institution", "ecole-jules-ferry"),
        ("partner", "cmpp"),
    ):
        who = h.auth(role, org)
        for method, path in (
            ("GET", "/v1/situations"),
            ("GET", f"/v1/situations/{situation_id}"),
            ("GET", f"/v1/situations/{situation_id}/plan"),
            ("GET", f"/v1/situations/{situation_id}/consents"),
            ("GET", f"/v1/situations/{situation_id}/disclosures"),
            ("GET", "/v1/reviews"),
        ):
            r = await h.http.request(method, path, headers=who)
            assert r.status_code == 403, (role, path, r.status_code)
            assert r.json()["code"] == "forbidden_role"


async def test_another_pre_sees_nothing_and_changes_nothing(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    other = h.auth("coordinator", "pre-14118-coordination", tenant=h.other_tenant)
    sid = s["situation_id"]
    assert (await h.http.get(f"/v1/situations/{sid}/plan", headers=other)).status_code == 404
    assert (await h.http.get(f"/v1/handovers/{handover['id']}", headers=other)).status_code == 404
    assert (await h.http.get("/v1/handovers", headers=other)).json()["items"] == []
    assert (await h.http.get("/v1/partners", headers=other)).json() == []
    assert (await h.http.get("/v1/reviews", headers=other)).json() == []
    closing = await h.http.post(
        f"/v1/situations/{sid}/closure",
        json={"exit_reason": "family_moved", "final_review_held": False},
        headers=other,
    )
    assert closing.status_code == 404
    assert closing.json()["message"] == "Situation introuvable."
    same_partner_elsewhere = h.auth("partner", "cmpp-rouen", tenant=h.other_tenant)
    sheet = await h.http.get(
        f"/v1/handovers/{handover['id']}/sheet", headers=same_partner_elsewhere
    )
    assert sheet.status_code == 404


async def test_only_coordinators_run_reviews_assign_and_erase(parcours: Harness) -> None:
    h = parcours
    _, situation_id, referent_id = await h.in_parcours()
    referent = h.auth("referent", sub="referente-1")
    assign = await h.http.put(
        f"/v1/situations/{situation_id}/referent",
        json={"referent_id": referent_id},
        headers=referent,
    )
    assert assign.status_code == 403
    register = await h.http.put(
        f"/v1/referents/{referent_id}", json={"display_name": "Moi"}, headers=referent
    )
    assert register.status_code == 403
    settings = await h.http.put("/v1/settings", json={"caseload_limit": 50}, headers=referent)
    assert settings.status_code == 403


async def test_the_team_cannot_answer_for_a_partner(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    for who in (h.auth("coordinator"), h.auth("referent", sub="referente-1")):
        r = await h.http.post(f"/v1/handovers/{handover['id']}/acceptance", json={}, headers=who)
        assert r.status_code == 403
        sheet = await h.http.get(f"/v1/handovers/{handover['id']}/sheet", headers=who)
        assert sheet.status_code == 403
