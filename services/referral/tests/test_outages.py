"""A database that goes away: a saved referral is answered as saved, an outage is a 503."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from relais_runtime.testing import TcpProxy

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry-rouen"


async def test_a_referral_saved_just_before_the_database_goes_away_is_answered_as_saved(
    app_behind_proxy: Any, pg_proxy: TcpProxy, database_dsn: str, fiche: Any
) -> None:
    app = app_behind_proxy
    await app.register(SCHOOL)
    key = f"cut-after-commit-{uuid.uuid4().hex}"
    pg_proxy.cut_after_commit(key.encode())

    r = await app.http.post(
        "/v1/referrals",
        json=fiche(),
        headers=app.auth("institution", SCHOOL) | {"Idempotency-Key": key},
    )

    assert pg_proxy.cut_done.is_set(), "the database did not go away after the commit"
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["status"] == "received"
    assert answer["referral"]["child"]["first_name"] == "Éloïse"
    conn = await asyncpg.connect(database_dsn)
    try:
        saved = await conn.fetchval(
            "SELECT status FROM referrals WHERE id = $1", uuid.UUID(answer["id"])
        )
    finally:
        await conn.close()
    assert saved == "received"


async def test_a_database_outage_answers_503_with_retry_after_in_french_then_recovers(
    app_behind_proxy: Any, pg_proxy: TcpProxy, fiche: Any
) -> None:
    app = app_behind_proxy
    await app.register(SCHOOL)
    headers = app.auth("institution", SCHOOL)
    pg_proxy.cut()

    posted = await app.http.post("/v1/referrals", json=fiche(), headers=headers)
    listed = await app.http.get("/v1/referrals", headers=headers)

    for r in (posted, listed):
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        body = r.json()
        assert body["code"] == "database_unavailable"
        assert "momentanément indisponible" in body["message"]
        assert "Réessayez" in body["message"]

    await pg_proxy.restore()
    again = await app.http.post("/v1/referrals", json=fiche(), headers=headers)
    assert again.status_code == 201, again.text
