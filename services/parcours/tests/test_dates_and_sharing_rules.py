"""Dates that must not be in the future or out of order, and sharing only within consent."""

from __future__ import annotations

from datetime import timedelta

from .checks import CMPP, Harness, field_error, today


async def test_a_followup_dated_in_the_future_or_before_the_closure_is_refused_naming_the_field(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    referent = h.auth("referent", sub="referente-1")
    url = f"/v1/situations/{situation_id}"
    closed = await h.http.post(
        f"{url}/closure",
        json={"exit_reason": "objectives_met", "final_review_held": True},
        headers=referent,
    )
    assert closed.status_code == 200, closed.text
    future = await h.http.post(
        f"{url}/followup",
        json={"outcome": "stable", "held_on": closed.json()["followup_due_on"]},
        headers=referent,
    )
    error = field_error(future)
    assert error["field"] == "held_on"
    assert error["code"] == "date_in_future"
    assert "futur" in error["message"]
    tomorrow = await h.http.post(
        f"{url}/followup",
        json={"outcome": "stable", "held_on": str(today() + timedelta(days=1))},
        headers=referent,
    )
    assert field_error(tomorrow)["code"] == "date_in_future"
    early = await h.http.post(
        f"{url}/followup",
        json={"outcome": "stable", "held_on": str(today() - timedelta(days=1))},
        headers=referent,
    )
    error = field_error(early)
    assert (error["field"], error["code"]) == ("held_on", "followup_before_closure")
    assert h.count("followup.recorded") == 0
    held_today = await h.http.post(
        f"{url}/followup", json={"outcome": "stable", "held_on": str(today())}, headers=referent
    )
    assert held_today.status_code == 201, held_today.text


async def test_consent_date_errors_name_their_field_and_an_already_ended_consent_is_refused(
    parcours: Harness,
) -> None:
    h = parcours
    await h.add_partner(CMPP, "cmpp")
    _, situation_id, _ = await h.in_parcours()
    scope = [{"partner_id": CMPP, "data_categories": ["health"]}]
    assert (await h.give_consent(situation_id, scope)).status_code == 201

    future = field_error(await h.give_consent(situation_id, scope, given_at="2027-05-25T10:00:00Z"))
    assert (future["field"], future["code"]) == ("given_at", "date_in_future")
    before = field_error(await h.give_consent(situation_id, scope, valid_until="2026-11-19"))
    assert (before["field"], before["code"]) == ("valid_until", "valid_until_before_given")
    ended = field_error(
        await h.give_consent(
            situation_id,
            scope,
            given_at=f"{today() - timedelta(days=30)}T10:00:00Z",
            valid_until=str(today() - timedelta(days=1)),
        )
    )
    assert (ended["field"], ended["code"]) == ("valid_until", "valid_until_past")
    assert "vigueur" in ended["message"]
    ledger = (
        await h.http.get(f"/v1/situations/{situation_id}/consents", headers=h.auth("coordinator"))
    ).json()
    assert [c["status"] for c in ledger] == ["active"]  # the consent in force still is


async def test_both_holders_of_parental_authority_must_be_two_different_people(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    twice = await h.give_consent(
        situation_id,
        [],
        guardians=[
            {"label": "Mère", "relationship": "mother"},
            {"label": "mère ", "relationship": "mother"},
        ],
    )
    error = field_error(twice)
    assert (error["field"], error["code"]) == ("guardians", "guardians_duplicate")
    assert "autorité parentale" in error["message"]


async def test_a_decision_cannot_be_recorded_before_its_meeting_is_held(parcours: Harness) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    coordinator = h.auth("coordinator")
    next_week = today() + timedelta(days=7)
    meeting = await h.http.post(
        "/v1/reviews",
        json={
            "meets_on": str(next_week),
            "attendees": [{"name": "Mme Leroy", "organisation": "PRE"}],
            "situation_ids": [situation_id],
        },
        headers=coordinator,
    )
    assert meeting.status_code == 201, meeting.text  # planning ahead is the point
    early = await h.http.post(
        f"/v1/reviews/{meeting.json()['id']}/decisions",
        json={"situation_id": situation_id, "decision": "take_up", "axes": ["health"]},
        headers=coordinator,
    )
    assert early.status_code == 409
    assert early.json()["code"] == "review_not_held"
    assert next_week.strftime("%d/%m/%Y") in early.json()["message"]
    detail = (await h.http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
    assert detail["stage"] == "awaiting_review"
    assert h.count("review.decided") == 0


async def test_a_partner_the_consent_does_not_name_gets_nothing_not_even_an_empty_handover(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()  # consent: the CMPP only
    unnamed = await h.hand_over(s, partner_id="clas-saint-sever", categories=[])
    assert unnamed.status_code == 403
    assert unnamed.json()["code"] == "consent_scope_exceeded"
    assert "aucun partage" in unnamed.json()["message"]
    assert h.count("handover.requested") == 0

    bare = await h.hand_over(s, categories=[])
    assert bare.status_code == 201, bare.text
    partner = h.auth("partner", CMPP)
    sheet = f"/v1/handovers/{bare.json()['id']}/sheet"
    assert (await h.http.get(sheet, headers=partner)).status_code == 200
    # A new consent that no longer names the CMPP at all ends even that handover.
    other = await h.give_consent(
        s["situation_id"], [{"partner_category": "clas", "data_categories": ["schooling"]}]
    )
    assert other.status_code == 201, other.text
    cancelled = await h.event("handover.cancelled", handover_id=bare.json()["id"])
    assert cancelled["data"]["reason"] == "consent_withdrawn"
    assert (await h.http.get(sheet, headers=partner)).status_code == 403


async def test_an_action_changed_to_end_before_it_starts_is_refused(parcours: Harness) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    referent = h.auth("referent", sub="referente-1")
    base = f"/v1/situations/{situation_id}/plan"
    objective = await h.http.post(
        f"{base}/objectives", json={"axis": "schooling", "title": "Lecture"}, headers=referent
    )
    action = await h.http.post(
        f"{base}/objectives/{objective.json()['id']}/actions",
        json={"title": "Atelier lecture", "starts_on": "2026-12-10"},
        headers=referent,
    )
    url = f"{base}/actions/{action.json()['id']}"
    r = await h.http.patch(url, json={"ends_on": "2026-12-01"}, headers=referent)
    assert r.status_code == 422
    assert r.json()["code"] == "ends_before_start"
    ok = await h.http.patch(url, json={"ends_on": "2027-02-01"}, headers=referent)
    assert ok.status_code == 200, ok.text


async def test_the_directory_and_the_referents_are_paginated_and_filters_are_checked(
    parcours: Harness,
) -> None:
    h = parcours
    for partner_id in ("asso-a", "asso-b", "asso-c"):
        await h.add_partner(partner_id, "sports_association")
    for sub in ("ref-a", "ref-b", "ref-c"):
        await h.add_referent(sub)
    coordinator = h.auth("coordinator")
    first = (await h.http.get("/v1/partners?limit=2", headers=coordinator)).json()
    rest = (await h.http.get("/v1/partners?limit=2&offset=2", headers=coordinator)).json()
    assert [p["id"] for p in first + rest] == ["asso-a", "asso-b", "asso-c"]
    referents = await h.http.get("/v1/referents?limit=2", headers=coordinator)
    assert len(referents.json()) == 2
    too_many = await h.http.get("/v1/referents?limit=100000", headers=coordinator)
    assert too_many.status_code == 422
    typo = await h.http.get("/v1/handovers?status=acepted", headers=coordinator)
    assert typo.status_code == 422
    assert typo.json()["errors"][0]["field"] == "query.status"


async def test_a_review_dated_before_the_situation_opened_is_refused_on_its_date(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    coordinator = h.auth("coordinator")
    nine_days_before = str(today() - timedelta(days=9))
    early = await h.http.post(
        "/v1/reviews",
        json={"meets_on": nine_days_before, "situation_ids": [situation_id]},
        headers=coordinator,
    )
    error = field_error(early)
    assert (error["field"], error["code"]) == ("meets_on", "date_before_situation")
    assert "précède l'ouverture de la situation" in error["message"]
    # Put on the agenda of a meeting held before it existed: refused on the added ids.
    empty = await h.http.post(
        "/v1/reviews", json={"meets_on": nine_days_before}, headers=coordinator
    )
    assert empty.status_code == 201, empty.text
    added = await h.http.patch(
        f"/v1/reviews/{empty.json()['id']}",
        json={"add_situation_ids": [situation_id]},
        headers=coordinator,
    )
    error = field_error(added)
    assert (error["field"], error["code"]) == ("add_situation_ids", "date_before_situation")
    on_the_day = await h.http.post(
        "/v1/reviews",
        json={"meets_on": str(today()), "situation_ids": [situation_id]},
        headers=coordinator,
    )
    assert on_the_day.status_code == 201, on_the_day.text


async def test_a_consent_given_before_the_situation_opened_is_refused_on_given_at(
    parcours: Harness,
) -> None:
    h = parcours
    await h.add_partner(CMPP, "cmpp")
    _, situation_id, _ = await h.in_parcours()
    scope = [{"partner_id": CMPP, "data_categories": ["health"]}]
    early = await h.give_consent(
        situation_id, scope, given_at=f"{today() - timedelta(days=13)}T10:00:00Z"
    )
    error = field_error(early)
    assert (error["field"], error["code"]) == ("given_at", "date_before_situation")
    assert error["message"].startswith("La date du consentement")
    assert h.count("consent.given") == 0


async def test_plan_dates_before_the_situation_opened_are_refused_on_their_field(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    referent = h.auth("referent", sub="referente-1")
    base = f"/v1/situations/{situation_id}/plan"
    yesterday = str(today() - timedelta(days=1))
    target = await h.http.post(
        f"{base}/objectives",
        json={"axis": "schooling", "title": "Lecture", "target_on": yesterday},
        headers=referent,
    )
    assert (field_error(target)["field"], field_error(target)["code"]) == (
        "target_on",
        "date_before_situation",
    )
    objective = await h.http.post(
        f"{base}/objectives", json={"axis": "schooling", "title": "Lecture"}, headers=referent
    )
    actions = f"{base}/objectives/{objective.json()['id']}/actions"
    started = await h.http.post(
        actions, json={"title": "Atelier", "starts_on": yesterday}, headers=referent
    )
    assert field_error(started)["field"] == "starts_on"
    action = await h.http.post(actions, json={"title": "Atelier"}, headers=referent)
    moved = await h.http.patch(
        f"{base}/actions/{action.json()['id']}", json={"ends_on": yesterday}, headers=referent
    )
    assert (field_error(moved)["field"], field_error(moved)["code"]) == (
        "ends_on",
        "date_before_situation",
    )
