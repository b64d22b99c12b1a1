"""A child referred again after the PRE declined its situation: a new review, end to end.

referral → team review declines → the school refers the child again: the school hears
« reçue » then « en cours d'examen », the coordinators are told of a new situation to
review (with its deadline), linked to the declined one; a college's referral of the same
child then joins that review and the coordinators hear of it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.test_backbone_flow import eventually, referral_body
from tests.e2e.test_referral_duplicate_child import register

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"
COORDINATION = "pre-76540-coordination"


async def test_a_child_referred_again_after_a_decline_is_reviewed_again_and_senders_hear_it(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    referrals = f"{stack.url('referral')}/v1/referrals"
    parcours = stack.url("parcours")
    school = stack.auth("institution", SCHOOL)
    coordinator = stack.auth("coordinator", COORDINATION)
    async with httpx.AsyncClient(timeout=10) as http:
        await register(http, stack, SCHOOL)
        await register(http, stack, COLLEGE)

        async def timeline(referral_id: str, headers: dict[str, str]) -> list[str]:
            r = await http.get(f"{referrals}/{referral_id}", headers=headers)
            return [t["status"] for t in r.json()["timeline"]]

        async def situation_of(referral_id: str) -> dict[str, Any] | None:
            page = (await http.get(f"{parcours}/v1/situations", headers=coordinator)).json()
            found = [s for s in page["items"] if referral_id in s["referral_ids"]]
            return found[0] if found else None

        async def coordinators_feed() -> list[str]:
            r = await http.get(f"{stack.url('notifications')}/v1/feed", headers=coordinator)
            return [i["kind"].removeprefix("fr.relais.") for i in r.json()["items"]]

        first = await http.post(referrals, json=referral_body(), headers=school)
        assert first.status_code == 201, first.text
        first_id = first.json()["id"]
        declined = await eventually(lambda: situation_of(first_id))
        today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
        meeting = await http.post(
            f"{parcours}/v1/reviews",
            json={
                "meets_on": today,
                "attendees": [{"name": "Mme Leroy", "organisation": "PRE", "role": "coord."}],
                "situation_ids": [declined["id"]],
            },
            headers=coordinator,
        )
        assert meeting.status_code == 201, meeting.text
        decided = await http.post(
            f"{parcours}/v1/reviews/{meeting.json()['id']}/decisions",
            json={
                "situation_id": declined["id"],
                "decision": "decline",
                "decline_reason": "outside_territory",
            },
            headers=coordinator,
        )
        assert decided.status_code == 201, decided.text

        async def first_declined() -> bool:
            return (await timeline(first_id, school))[-1] == "declined"

        await eventually(first_declined)

        # The family moved back: the school refers the child again.
        again = await http.post(referrals, json=referral_body(), headers=school)
        assert again.status_code == 201, again.text
        again_id = again.json()["id"]

        async def under_review() -> list[str] | None:
            statuses = await timeline(again_id, school)
            return statuses if statuses[-1] != "received" else None

        assert await eventually(under_review) == ["received", "under_review"]
        reopened = await eventually(lambda: situation_of(again_id))
        assert reopened["id"] != declined["id"]
        assert reopened["stage"] == "awaiting_review"
        assert reopened["previous_situation_id"] == declined["id"]
        assert reopened["review_due_on"] > today

        async def two_to_review() -> bool:
            return (await coordinators_feed()).count("situation.opened.v1") == 2

        await eventually(two_to_review)

        # A college refers the same child while the new review is pending: it joins it,
        # and the coordinators hear of it.
        college = stack.auth("institution", COLLEGE)
        joined = await http.post(referrals, json=referral_body(), headers=college)
        assert joined.status_code == 201, joined.text

        async def attached() -> bool:
            return "situation.referral_attached.v1" in await coordinators_feed()

        await eventually(attached)
        situation = await situation_of(joined.json()["id"])
        assert situation is not None
        assert situation["id"] == reopened["id"]
        assert (await timeline(joined.json()["id"], college))[-1] == "under_review"
        assert (await timeline(first_id, school))[-1] == "declined"
