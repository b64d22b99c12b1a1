"""A referral withdrawn by its sender; erasing every record about a child."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relais_contracts.v1.referral import ReferralWithdrawn

Harness = Any


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
