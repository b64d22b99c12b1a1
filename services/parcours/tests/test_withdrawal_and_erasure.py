"""A referral withdrawn by its sender; erasing every record about a child."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from relais_contracts.v1.referral import ReferralWithdrawn
from relais_parcours.service.deadlines import fire_due_deadlines

from .conftest import Harness


async def test_a_withdrawn_referral_drops_its_identity_and_empties_the_review(
    parcours: Harness,
) -> None:
    h = parcours
    referral, situation_id = await h.open_situation()
    await h.publish(
        ReferralWithdrawn(
            referral_id=referral.referral_id,
            subject_id=referral.subject_id,
            institution_id=referral.institution_id,
            withdrawn_at=datetime.now(UTC),
        )
    )
    url = f"/v1/situations/{situation_id}"

    async def withdrawn() -> dict[str, Any] | None:
        body = (await h.http.get(url, headers=h.auth("coordinator"))).json()
        return body if body["stage"] == "withdrawn" else None

    body = await h.eventually(withdrawn)
    assert body["referrals"][0]["identity"] is None


async def test_a_new_referral_of_a_child_whose_referrals_were_withdrawn_reopens_the_review(
    parcours: Harness,
) -> None:
    h = parcours
    referral, situation_id = await h.open_situation()
    await h.publish(
        ReferralWithdrawn(
            referral_id=referral.referral_id,
            subject_id=referral.subject_id,
            institution_id=referral.institution_id,
            withdrawn_at=datetime.now(UTC),
        )
    )
    coordinator = h.auth("coordinator")
    url = f"/v1/situations/{situation_id}"

    async def stage_is(stage: str) -> dict[str, Any] | None:
        body = (await h.http.get(url, headers=coordinator)).json()
        return body if body["stage"] == stage else None

    await h.eventually(lambda: stage_is("withdrawn"))
    again = await h.submit_referral(subject_id=referral.subject_id, institution="cmp-rouen")
    attached = await h.event("situation.referral_attached", referral_id=str(again.referral_id))
    assert attached["data"]["stage"] == "awaiting_review"
    body = await h.eventually(lambda: stage_is("awaiting_review"))
    assert body["referrals"][-1]["identity"]["child"]["first_name"] == "Lina"
    inbox = (await h.http.get("/v1/situations?stage=awaiting_review", headers=coordinator)).json()
    assert [s["id"] for s in inbox["items"]] == [situation_id]
    later = datetime.now(UTC) + timedelta(days=40)
    assert (
        await fire_due_deadlines(
            h.app.state.parcours.units.sweep(), h.app.state.parcours, now=later
        )
        == 1
    )
    overdue = await h.event("deadline.overdue", situation_id=situation_id)
    assert overdue["data"]["deadline_kind"] == "review"


async def test_erasure_destroys_the_key_clears_texts_and_tells_the_other_services(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    url = f"/v1/situations/{s['situation_id']}"
    refused = await h.http.post(
        f"{url}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("referent", sub="referente-1"),
    )
    assert refused.status_code == 403
    r = await h.http.post(
        f"{url}/erasure", json={"reason": "data_subject_request"}, headers=h.auth("coordinator")
    )
    assert r.status_code == 204, r.text
    erased = await h.event(
        "subject.erased",
        subject_id=(await h.event("situation.opened", situation_id=s["situation_id"]))["data"][
            "subject_id"
        ],
    )
    assert erased["data"]["situation_ids"] == [s["situation_id"]]
    await h.event("handover.cancelled", handover_id=handover["id"])
    detail = (await h.http.get(url, headers=h.auth("coordinator"))).json()
    assert detail["stage"] == "erased"
    assert detail["referrals"][0]["identity"] is None
    plan = (await h.http.get(f"{url}/plan", headers=h.auth("coordinator"))).json()
    assert plan["objectives"][0]["title"] == "[effacé]"


async def test_a_referral_still_on_its_way_when_the_child_is_erased_is_dropped_and_erased_too(
    parcours: Harness,
) -> None:
    h = parcours
    first, situation_id = await h.open_situation()
    url = f"/v1/situations/{situation_id}"
    coordinator = h.auth("coordinator")
    r = await h.http.post(
        f"{url}/erasure", json={"reason": "data_subject_request"}, headers=coordinator
    )
    assert r.status_code == 204, r.text
    await h.event("subject.erased", referral_ids=[str(first.referral_id)])
    # Submitted before the erasure (the same subject id), it reaches parcours after it.
    late = await h.submit_referral(subject_id=first.subject_id, institution="cmp-rouen")
    erased = await h.event("subject.erased", referral_ids=[str(late.referral_id)])
    assert erased["data"]["subject_id"] == str(first.subject_id)
    assert erased["data"]["situation_ids"] == [situation_id]
    assert erased["data"]["reason"] == "data_subject_request"
    # Neither opened nor attached: the only event about it is its erasure.
    about_late = [
        e["type"]
        for e in h.seen
        if e["source"] == "/relais/parcours" and str(late.referral_id) in str(e["data"])
    ]
    assert about_late == ["fr.relais.subject.erased.v1"]
    detail = (await h.http.get(url, headers=coordinator)).json()
    assert detail["stage"] == "erased"
    assert [ref["identity"] for ref in detail["referrals"]] == [None, None]
    async with h.db() as conn:
        # No key was made for the erased child: nothing of its identity is readable again.
        assert await conn.fetchval("SELECT count(*) FROM subject_keys") == 0
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM situation_referrals WHERE identity_enc IS NOT NULL "
                "OR sealed IS NOT NULL"
            )
            == 0
        )
        assert await conn.fetchval("SELECT count(*) FROM situations") == 1
