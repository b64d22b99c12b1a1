"""Closure, the six-month follow-up, and the durable deadline scheduler."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import REGISTRY

from relais_parcours.service.consent import expire_consents
from relais_parcours.service.deadlines import fire_due_deadlines, sample_deadlines

from .conftest import Harness


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


async def fire(h: Harness, now: datetime) -> int:
    return await fire_due_deadlines(
        h.app.state.parcours.units.sweep(), h.app.state.parcours, now=now
    )


async def test_closure_cancels_open_handovers_and_the_followup_falls_due_once(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    url = f"/v1/situations/{s['situation_id']}"
    referent = h.auth("referent", sub="referente-1")
    bad = await h.http.post(
        f"{url}/closure", json={"exit_reason": "other", "final_review_held": True}, headers=referent
    )
    assert bad.status_code == 422
    r = await h.http.post(
        f"{url}/closure",
        json={"exit_reason": "objectives_met", "final_review_held": True},
        headers=referent,
    )
    assert r.status_code == 200, r.text
    due_on = date.fromisoformat(r.json()["followup_due_on"])
    closed = await h.event("parcours.closed", situation_id=s["situation_id"])
    assert closed["data"]["exit_reason"] == "objectives_met"
    assert closed["data"]["axes"] == ["health", "schooling"]
    cancelled = await h.event("handover.cancelled", handover_id=handover["id"])
    assert cancelled["data"]["reason"] == "parcours_closed"
    assert (due_on - date.today()).days in range(180, 186)

    assert await fire(h, _at(str(due_on - timedelta(days=1)))) == 0
    assert await fire(h, _at(str(due_on))) >= 1
    due = await h.event("followup.due", situation_id=s["situation_id"])
    assert due["data"]["due_on"] == str(due_on)
    assert await fire(h, _at(str(due_on + timedelta(days=3)))) == 0

    # The follow-up is recorded once held: on a real day, never a future one.
    held_on = str(datetime.now(ZoneInfo("Europe/Paris")).date())
    followup = await h.http.post(
        f"{url}/followup", json={"outcome": "stable", "held_on": held_on}, headers=referent
    )
    assert followup.status_code == 201, followup.text
    await h.event("followup.recorded", situation_id=s["situation_id"])
    twice = await h.http.post(
        f"{url}/followup", json={"outcome": "stable", "held_on": held_on}, headers=referent
    )
    assert twice.status_code == 409


async def test_a_review_not_held_in_time_is_reported_once_even_with_two_schedulers(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    _, decided = await h.open_situation()
    await h.decide(decided)
    later = datetime.now(UTC) + timedelta(days=40)
    counts = await asyncio.gather(fire(h, later), fire(h, later))
    assert sum(counts) == 1
    overdue = await h.event("deadline.overdue", situation_id=situation_id)
    assert overdue["data"]["deadline_kind"] == "review"
    assert overdue["data"]["days_overdue"] >= 18
    await asyncio.sleep(0.5)
    assert h.count("deadline.overdue") == 1


async def test_a_partner_not_answering_in_time_is_reported(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    await fire(h, datetime.now(UTC) + timedelta(days=30))
    overdue = await h.event("deadline.overdue", deadline_kind="handover_response")
    assert overdue["data"]["handover_id"] == handover["id"]
    assert overdue["data"]["partner_id"] == "cmpp-rouen"


async def test_deadline_gauges_show_a_past_due_deadline_unfired_then_overdue(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    await h.hand_over(s)
    ctx = h.app.state.parcours
    later = datetime.now(UTC) + timedelta(days=30)

    def gauge(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"kind": "handover_response"})

    await sample_deadlines(ctx.units.sweep(), ctx, now=later)
    assert (gauge("relais_deadlines_unfired"), gauge("relais_deadlines_overdue")) == (1, 0)
    fired_before = gauge("relais_deadlines_fired_total") or 0
    await fire(h, later)
    await sample_deadlines(ctx.units.sweep(), ctx, now=later)
    assert (gauge("relais_deadlines_unfired"), gauge("relais_deadlines_overdue")) == (0, 1)
    assert gauge("relais_deadlines_fired_total") == fired_before + 1


async def test_an_expired_consent_ends_sharing(parcours: Harness) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    await h.give_consent(
        s["situation_id"],
        [{"partner_id": "cmpp-rouen", "data_categories": ["health"]}],
        valid_until=str(date.today() + timedelta(days=10)),
    )
    consent_id = (
        await h.event(
            "consent.given",
            situation_id=s["situation_id"],
            valid_until=str(date.today() + timedelta(days=10)),
        )
    )["data"]["consent_id"]
    handover = (await h.hand_over(s, categories=["health"])).json()
    ctx = h.app.state.parcours
    assert await expire_consents(ctx.units.sweep(), ctx, datetime.now(UTC)) == 0
    assert (
        await expire_consents(ctx.units.sweep(), ctx, datetime.now(UTC) + timedelta(days=12)) == 1
    )
    expired = await h.event("consent.expired", consent_id=consent_id)
    assert expired["data"]["partner_ids"] == ["cmpp-rouen"]
    cancelled = await h.event("handover.cancelled", handover_id=handover["id"])
    assert cancelled["data"]["reason"] == "consent_expired"


async def test_a_parcours_past_its_maximum_duration_warns(parcours: Harness) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    await h.http.put(
        "/v1/settings", json={"max_duration_months": 18}, headers=h.auth("coordinator")
    )
    conn = await asyncpg.connect(h.app.state.parcours.settings.database_url)
    try:
        await conn.execute(
            "UPDATE situations SET started_on = $2 WHERE id = $1::uuid",
            situation_id,
            date.today() - timedelta(days=600),
        )
    finally:
        await conn.close()
    detail = (
        await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))
    ).json()
    assert "18 mois" in detail["warnings"][0]
    inbox = (
        await h.http.get("/v1/situations?stage=in_parcours", headers=h.auth("coordinator"))
    ).json()["items"]
    assert [i["warnings"] for i in inbox if i["id"] == situation_id] == [detail["warnings"]]
    closed = await h.http.post(
        f"/v1/situations/{situation_id}/closure",
        json={"exit_reason": "age_limit", "final_review_held": False},
        headers=h.auth("coordinator"),
    )
    assert "18 mois" in closed.json()["warnings"][0]
    assert "clôturé" in closed.json()["warnings"][0]
    assert "préparez" not in closed.json()["warnings"][0]  # the exit is done, not to prepare
    after = (await h.http.get("/v1/situations", headers=h.auth("coordinator"))).json()["items"]
    assert [i["warnings"] for i in after if i["id"] == situation_id] == [[]]
