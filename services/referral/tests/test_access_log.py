"""The sender's reads of its referrals are in the access log (issue 15): who, what, why."""

from __future__ import annotations

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
