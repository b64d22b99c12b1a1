"""A child referred again once the PRE has finished with its file gets a new review."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from relais_parcours.domain.situation import OnReferral, on_new_referral

from .conftest import Harness


@pytest.mark.parametrize(
    ("stage", "step"),
    [
        (None, OnReferral.OPEN),
        ("declined", OnReferral.OPEN),
        ("redirected", OnReferral.OPEN),
        ("closed", OnReferral.OPEN),
        ("awaiting_review", OnReferral.JOIN),
        ("in_parcours", OnReferral.JOIN),
        ("withdrawn", OnReferral.REOPEN),
        ("erased", OnReferral.DROP),
    ],
)
def test_a_new_referral_never_joins_a_finished_file(stage: str | None, step: OnReferral) -> None:
    assert on_new_referral(stage) is step


async def _review_deadlines(h: Harness, situation_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(h.app.state.parcours.settings.database_url)
    try:
        return await conn.fetch(
            "SELECT due_on FROM deadlines WHERE situation_id = $1 AND kind = 'review' "
            "AND resolved_at IS NULL",
            situation_id,
        )
    finally:
        await conn.close()


async def _referred_again_opens_a_new_review(h: Harness, first: Any, earlier_id: str) -> str:
    again = await h.submit_referral(subject_id=first.subject_id, institution="ccas-rouen")
    opened = await h.event("situation.opened", referral_ids=[str(again.referral_id)])
    situation_id: str = opened["data"]["situation_id"]
    assert situation_id != earlier_id
    assert h.count("situation.referral_attached") == 0
    coordinator = h.auth("coordinator")
    new = (await h.http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
    assert new["stage"] == "awaiting_review"
    assert new["previous_situation_id"] == earlier_id
    assert new["referral_ids"] == [str(again.referral_id)]
    assert [str(d["due_on"]) for d in await _review_deadlines(h, situation_id)] == [
        opened["data"]["review_due_on"]
    ]
    # The new file can be reviewed; the earlier one keeps its own decision.
    assert (await h.decide(situation_id)).status_code == 201
    return situation_id


@pytest.mark.parametrize(
    "decision",
    [
        {"decision": "decline", "decline_reason": "outside_territory"},
        {"decision": "redirect", "redirected_to": "CMP de Rouen", "redirect_category": "cmp"},
    ],
)
async def test_a_child_referred_again_after_a_decline_or_redirection_gets_a_new_review(
    parcours: Harness, decision: dict[str, Any]
) -> None:
    h = parcours
    first, situation_id = await h.open_situation()
    assert (await h.decide(situation_id, **decision)).status_code == 201
    await _referred_again_opens_a_new_review(h, first, situation_id)
    earlier = (
        await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))
    ).json()
    assert (
        earlier["stage"] == {"decline": "declined", "redirect": "redirected"}[decision["decision"]]
    )


async def test_a_child_referred_again_after_the_closure_gets_a_new_review(
    parcours: Harness,
) -> None:
    h = parcours
    first, situation_id, _ = await h.in_parcours()
    closed = await h.http.post(
        f"/v1/situations/{situation_id}/closure",
        json={"exit_reason": "objectives_met", "final_review_held": True},
        headers=h.auth("referent", sub="referente-1"),
    )
    assert closed.status_code == 200, closed.text
    await _referred_again_opens_a_new_review(h, first, situation_id)


async def test_erasing_a_child_referred_again_erases_its_earlier_files_too(
    parcours: Harness,
) -> None:
    h = parcours
    first, earlier_id = await h.open_situation()
    assert (
        await h.decide(earlier_id, decision="decline", decline_reason="family_refused")
    ).status_code == 201
    again = await h.submit_referral(subject_id=first.subject_id, institution="ccas-rouen")
    opened = await h.event("situation.opened", referral_ids=[str(again.referral_id)])
    r = await h.http.post(
        f"/v1/situations/{opened['data']['situation_id']}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("coordinator"),
    )
    assert r.status_code == 204, r.text
    erased = await h.event("subject.erased", subject_id=str(first.subject_id))
    assert sorted(erased["data"]["situation_ids"]) == sorted(
        [earlier_id, opened["data"]["situation_id"]]
    )
    assert sorted(erased["data"]["referral_ids"]) == sorted(
        [str(first.referral_id), str(again.referral_id)]
    )
    coordinator = h.auth("coordinator")
    for situation_id in (earlier_id, opened["data"]["situation_id"]):
        body = (await h.http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
        assert body["stage"] == "erased"
    # A third referral still on its way under that subject is dropped, not opened.
    late = await h.submit_referral(subject_id=first.subject_id)
    dropped = await h.event("subject.erased", referral_ids=[str(late.referral_id)])
    assert dropped["data"]["situation_ids"] == [opened["data"]["situation_id"]]
