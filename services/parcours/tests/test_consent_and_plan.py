"""The consent ledger and the four-axis plan."""

from __future__ import annotations

from .checks import today
from .conftest import Harness


async def test_consent_is_recorded_per_guardian_with_its_scope_expanded_on_the_wire(
    parcours: Harness,
) -> None:
    h = parcours
    await h.add_partner("cmpp-rouen", "cmpp")
    await h.add_partner("clas-saint-sever", "clas")
    _, situation_id, _ = await h.in_parcours()
    r = await h.give_consent(
        situation_id,
        [
            {"partner_id": "cmpp-rouen", "data_categories": ["identity_and_contact", "health"]},
            {"partner_category": "clas", "data_categories": ["schooling"]},
        ],
        valid_until="2027-11-19",
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
    event = await h.event("consent.given", situation_id=situation_id)
    assert event["data"]["scope"] == [
        {"partner_id": "clas-saint-sever", "data_categories": ["schooling"]},
        {"partner_id": "cmpp-rouen", "data_categories": ["health", "identity_and_contact"]},
    ]
    second = await h.give_consent(situation_id, [])
    assert second.status_code == 201
    ledger = (
        await h.http.get(f"/v1/situations/{situation_id}/consents", headers=h.auth("coordinator"))
    ).json()
    assert [c["status"] for c in ledger] == ["superseded", "active"]
    assert ledger[1]["supersedes"] == ledger[0]["id"]


async def test_one_guardian_alone_must_say_why_and_oral_consent_needs_a_witness(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    alone = await h.give_consent(
        situation_id, [], guardians=[{"label": "Mère", "relationship": "mother"}]
    )
    assert alone.status_code == 422
    assert alone.json()["errors"][0]["code"] == "sole_guardian_reason_required"
    oral = await h.give_consent(situation_id, [], form="oral_witnessed")
    assert oral.json()["errors"][0]["code"] == "witness_required"
    unknown = await h.give_consent(
        situation_id, [{"partner_id": "inconnu", "data_categories": ["health"]}]
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "partner_not_found"


async def test_the_plan_has_objectives_and_actions_per_axis_and_emits_counts_only(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    referent = h.auth("referent", sub="referente-1")
    base = f"/v1/situations/{situation_id}/plan"
    objective = await h.http.post(
        f"{base}/objectives",
        json={"axis": "health", "title": "Bilan orthophonique"},
        headers=referent,
    )
    assert objective.status_code == 201, objective.text
    objective_id = objective.json()["id"]
    action = await h.http.post(
        f"{base}/objectives/{objective_id}/actions",
        json={"title": "Séances avec l'orthophoniste", "starts_on": str(today())},
        headers=referent,
    )
    assert action.status_code == 201, action.text
    changed = await h.http.patch(
        f"{base}/actions/{action.json()['id']}", json={"status": "in_progress"}, headers=referent
    )
    assert changed.status_code == 200, changed.text
    plan = changed.json()
    assert plan["plan_version"] == 3
    assert plan["objectives"][0]["actions"][0]["status"] == "in_progress"
    event = await h.event("plan.updated", situation_id=situation_id, plan_version=3)
    assert event["data"]["axes"] == [
        {
            "axis": "health",
            "objectives": {"open": 1, "met": 0, "abandoned": 0},
            "actions": {
                "planned": 0,
                "in_progress": 1,
                "done": 0,
                "cancelled": 0,
                "with_partner": 0,
            },
        }
    ]
    assert "orthophon" not in str(h.seen)
    stranger = await h.http.get(base, headers=h.auth("referent", sub="someone-else"))
    assert stranger.status_code == 403


async def test_a_retried_creation_with_the_same_idempotency_key_creates_nothing_more(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    headers = {**h.auth("referent", sub="referente-1"), "Idempotency-Key": "objectif-1"}
    url = f"/v1/situations/{situation_id}/plan/objectives"
    body = {"axis": "schooling", "title": "Lecture"}
    first = await h.http.post(url, json=body, headers=headers)
    again = await h.http.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    plan = (await h.http.get(f"/v1/situations/{situation_id}/plan", headers=headers)).json()
    assert len(plan["objectives"]) == 1
    other_body = await h.http.post(url, json={**body, "title": "Calcul"}, headers=headers)
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_key_reused"
    # The key is scoped by route (ADR 0020): on another route it is a new request.
    other_route = await h.http.post(
        f"{url}/{first.json()['id']}/actions", json={"title": "Atelier"}, headers=headers
    )
    assert other_route.status_code == 201
    assert other_route.json()["id"] != first.json()["id"]


async def test_the_same_key_for_another_situation_is_refused_not_replayed(
    parcours: Harness,
) -> None:
    h = parcours
    _, first_situation, _ = await h.in_parcours()
    _, second_situation, _ = await h.in_parcours(referent_sub="referente-2")
    headers = {**h.auth("coordinator"), "Idempotency-Key": "objectif-2"}
    body = {"axis": "schooling", "title": "Lecture"}
    first = await h.http.post(
        f"/v1/situations/{first_situation}/plan/objectives", json=body, headers=headers
    )
    assert first.status_code == 201
    again = await h.http.post(
        f"/v1/situations/{second_situation}/plan/objectives", json=body, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_key_reused"


async def test_keys_past_their_retention_are_pruned_and_the_key_creates_again(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    headers = {**h.auth("coordinator"), "Idempotency-Key": "objectif-3"}
    url = f"/v1/situations/{situation_id}/plan/objectives"
    body = {"axis": "schooling", "title": "Lecture"}
    first = await h.http.post(url, json=body, headers=headers)
    async with h.db() as conn:
        stored = await conn.fetchrow(
            "SELECT route, fingerprint FROM relais_idempotency WHERE key = 'objectif-3'"
        )
        assert stored["route"] == "parcours.plan.objectives.create"
        assert "Lecture" not in stored["fingerprint"]
        await conn.execute(
            "UPDATE relais_idempotency SET created_at = now() - interval '31 days' "
            "WHERE key = 'objectif-3'"
        )
    assert await h.app.state.idempotency_pruner.run_once() == 1
    async with h.db() as conn:
        assert await conn.fetchval("SELECT count(*) FROM relais_idempotency") == 0
    after = await h.http.post(url, json=body, headers=headers)
    assert after.status_code == 201
    assert after.json()["id"] != first.json()["id"]
