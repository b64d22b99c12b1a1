"""Situations and the inbox: identity opened, stored under a per-subject key, shown to few."""

from __future__ import annotations

import asyncpg

from .conftest import Harness


async def opened(h: Harness, referral_id: str) -> dict:
    e = await h.event("situation.opened")
    assert referral_id in e["data"]["referral_ids"]
    return e


async def test_a_referral_opens_a_situation_with_the_identity_encrypted_at_rest(
    parcours: Harness,
) -> None:
    h = parcours
    referral = await h.submit_referral()
    event = await opened(h, str(referral.referral_id))
    situation_id = event["data"]["situation_id"]
    coordinator = h.auth("coordinator")

    inbox = (await h.http.get("/v1/situations", headers=coordinator)).json()
    assert [s["id"] for s in inbox["items"]] == [situation_id]
    assert inbox["items"][0]["facts"][0]["reason_categories"] == ["learning_difficulties"]
    assert "referrals" not in inbox["items"][0]

    detail = (await h.http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
    assert detail["referrals"][0]["identity"] == h.identity

    settings = h.app.state.parcours.settings
    conn = await asyncpg.connect(settings.database_url)
    try:
        dump = str(await conn.fetch("SELECT * FROM situation_referrals"))
        assert "Benaliouche" not in dump
        assert (
            await conn.fetchval("SELECT count(*) FROM situation_referrals WHERE sealed IS NOT NULL")
            == 0
        )
        # Crypto-erasure: without the subject's key the identity cannot be read any more.
        await conn.execute("DELETE FROM subject_keys")
    finally:
        await conn.close()
    detail = (await h.http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
    assert detail["referrals"][0]["identity"] is None


async def test_a_second_referral_of_the_same_child_joins_its_situation(parcours: Harness) -> None:
    h = parcours
    first = await h.submit_referral()
    event = await opened(h, str(first.referral_id))
    second = await h.submit_referral(subject_id=first.subject_id, institution="ccas-rouen")
    attached = await h.event("situation.referral_attached", referral_id=str(second.referral_id))
    assert attached["data"]["situation_id"] == event["data"]["situation_id"]
    detail = (
        await h.http.get(
            f"/v1/situations/{event['data']['situation_id']}", headers=h.auth("coordinator")
        )
    ).json()
    assert len(detail["referrals"]) == 2
    assert all(r["identity"] == h.identity for r in detail["referrals"])


async def test_another_pre_and_an_unknown_referent_cannot_read_the_situation(
    parcours: Harness,
) -> None:
    h = parcours
    referral = await h.submit_referral()
    situation_id = (await opened(h, str(referral.referral_id)))["data"]["situation_id"]
    other = await h.http.get(
        f"/v1/situations/{situation_id}", headers=h.auth("coordinator", tenant=h.other_tenant)
    )
    assert other.status_code == 404
    assert (
        await h.http.get("/v1/situations", headers=h.auth("coordinator", tenant=h.other_tenant))
    ).json()["items"] == []
    stranger = await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("referent"))
    assert stranger.status_code == 403
    assert stranger.json()["code"] == "referent_unknown"
    partner = await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("partner", "cmpp"))
    assert partner.status_code == 403


async def test_identities_kept_as_jwe_by_an_earlier_version_are_re_encrypted(
    parcours: Harness,
) -> None:
    from relais_parcours.service.open_situation import backfill_identities
    from relais_runtime.sealing import PreKeys, seal

    h = parcours
    referral = await h.submit_referral()
    situation_id = (await opened(h, str(referral.referral_id)))["data"]["situation_id"]
    sealed = seal(h.identity, PreKeys(h.keys_dir).public_key("pre-76540"))
    conn = await asyncpg.connect(h.app.state.parcours.settings.database_url)
    try:
        await conn.execute("DELETE FROM subject_keys")
        await conn.execute(
            "UPDATE situation_referrals SET identity_enc = NULL, sealed = $1", sealed
        )
    finally:
        await conn.close()
    assert await backfill_identities(h.app.state.parcours.units.sweep(), h.app.state.parcours) == 1
    assert await backfill_identities(h.app.state.parcours.units.sweep(), h.app.state.parcours) == 0
    detail = (
        await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))
    ).json()
    assert detail["referrals"][0]["identity"] == h.identity
