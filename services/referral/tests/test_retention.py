"""Retention in referral (issue 15): a child whose referrals all ended (here: withdrawn) is
erased the PRE's period after the last of them moved, once; one still open is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relais_referral.service import retention

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry-rouen"
YEAR = timedelta(days=365)


async def stored(app: Any, referral_id: str) -> dict[str, Any]:
    async with app.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT r.fiche, r.identity, r.status, "
            "(SELECT count(*) FROM subjects s WHERE s.pre_id = r.pre_id "
            " AND s.subject_id = r.subject_id) AS indexed, "
            "(SELECT count(*) FROM subject_keys k WHERE k.pre_id = r.pre_id "
            " AND k.subject_id = r.subject_id) AS keyed "
            "FROM referrals r WHERE r.id = $1",
            uuid.UUID(referral_id),
        )
    return dict(row)


async def test_a_withdrawn_referral_is_erased_two_years_after_once_and_an_open_one_stays(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    school = app.auth("institution", SCHOOL)
    withdrawn = (await app.http.post("/v1/referrals", json=fiche(), headers=school)).json()
    other = fiche()
    other["child"]["first_name"] = "Zoé"
    other["child"]["birth_date"] = "2015-01-09"
    still_open = (await app.http.post("/v1/referrals", json=other, headers=school)).json()
    r = await app.http.post(f"/v1/referrals/{withdrawn['id']}/withdraw", headers=school)
    assert r.status_code == 200, r.text
    settings, now = app.runtime.settings, datetime.now(UTC)

    before = await retention.erase_due(app.runtime, settings, now + 2 * YEAR - timedelta(days=5))
    after = await retention.erase_due(app.runtime, settings, now + 2 * YEAR + timedelta(days=5))
    again = await retention.erase_due(app.runtime, settings, now + 5 * YEAR)

    assert (before, after, again) == (0, 1, 0)
    gone = await stored(app, withdrawn["id"])
    assert (gone["fiche"], gone["identity"], gone["indexed"], gone["keyed"]) == (None, None, 0, 0)
    assert gone["status"] == "withdrawn"  # the sender's timeline stays
    kept = await stored(app, still_open["id"])
    assert kept["fiche"] is not None
    assert (kept["indexed"], kept["keyed"]) == (1, 1)
    async with app.runtime.pool.acquire() as conn:
        # The withdrawal's answer showed the fiche: its read line comes first (issue 15).
        line = await conn.fetchrow(
            "SELECT actor_sub, action, record_type FROM relais_access_log "
            "WHERE actor_sub LIKE 'system:%'"
        )
    assert dict(line) == {
        "actor_sub": "system:referral-retention",
        "action": "erase",
        "record_type": "subject",
    }
