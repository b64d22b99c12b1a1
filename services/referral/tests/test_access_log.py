"""The sender's reads of its referrals are in the access log (issue 15): who, what, why."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from relais_runtime import audit

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"


async def test_a_senders_reads_of_its_fiche_and_list_are_recorded_and_anothers_404_is_not(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    school = app.auth("institution", SCHOOL)
    sent = await app.http.post("/v1/referrals", json=fiche(), headers=school)
    referral_id = sent.json()["id"]

    one = await app.http.get(f"/v1/referrals/{referral_id}", headers=school)
    page = await app.http.get("/v1/referrals", headers=school)
    foreign = await app.http.get(
        f"/v1/referrals/{referral_id}", headers=app.auth("institution", COLLEGE)
    )

    assert (one.status_code, page.status_code, foreign.status_code) == (200, 200, 404)
    async with app.runtime.pool.acquire() as conn:
        lines = await conn.fetch("SELECT * FROM relais_access_log ORDER BY seq")
        [report] = await audit.verify(conn, "pre-76540")
    assert [(x["record_type"], x["record_id"], x["actor_org"]) for x in lines] == [
        ("referral", referral_id, SCHOOL),
        ("referral_page", referral_id, SCHOOL),
    ]
    assert "identity.child" in lines[0]["field_groups"]
    assert lines[0]["purpose"] == "suivi de l'orientation par l'établissement qui l'a envoyée"
    assert report.broken is None


async def lines_of(app: Any) -> list[dict[str, Any]]:
    async with app.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM relais_access_log ORDER BY seq")
        if rows:  # (a chain with no line has no head to check)
            [report] = await audit.verify(conn, "pre-76540")
            assert report.broken is None
    return [dict(r) for r in rows]


async def test_answers_that_show_the_stored_fiche_again_record_a_read(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    school = app.auth("institution", SCHOOL) | {"Idempotency-Key": "envoi-1"}
    body = fiche()
    sent = await app.http.post("/v1/referrals", json=body, headers=school)
    assert sent.status_code == 201, sent.text
    assert await lines_of(app) == []  # the sender's own words, just written: no read

    replayed = await app.http.post("/v1/referrals", json=body, headers=school)
    withdrawn = await app.http.post(
        f"/v1/referrals/{sent.json()['id']}/withdraw", headers=app.auth("institution", SCHOOL)
    )

    assert replayed.status_code == 200, replayed.text
    assert withdrawn.status_code == 200, withdrawn.text
    shown = withdrawn.json()["referral"]["child"]["last_name"]
    assert shown == body["child"]["last_name"]  # the fiche, shown again
    lines = await lines_of(app)
    assert [(x["action"], x["record_type"], x["record_id"], x["actor_org"]) for x in lines] == [
        ("read", "referral", sent.json()["id"], SCHOOL),
        ("read", "referral", sent.json()["id"], SCHOOL),
    ]
    assert all("identity.child" in x["field_groups"] for x in lines)
    assert body["child"]["last_name"] not in repr(lines)


async def test_a_withdrawal_is_refused_when_its_answer_cannot_be_recorded(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    school = app.auth("institution", SCHOOL)
    sent = await app.http.post("/v1/referrals", json=fiche(), headers=school)
    assert sent.status_code == 201, sent.text
    async with app.runtime.pool.acquire() as conn:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'log volume full'; END; $$"
        )
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON relais_access_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    r = await app.http.post(f"/v1/referrals/{sent.json()['id']}/withdraw", headers=school)

    assert r.status_code == 503
    assert r.json()["code"] == "access_log_unavailable"
    async with app.runtime.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT status FROM referrals WHERE id = $1", uuid.UUID(sent.json()["id"])
        )
    assert status == "received"  # as sent: not withdrawn
