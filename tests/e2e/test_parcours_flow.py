"""The whole life of a situation across the four services as processes on the real broker.

referral → team review → référent → consent → plan → handover → the partner accepts, reads
its sheet and completes → closure → the six-month follow-up falls due; the sender's
timeline follows, the partner and the référent are notified, and withdrawing consent
visibly cuts a partner off.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.e2e.test_backbone_flow import eventually, referral_body, register_school, tap_events

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"
CMPP = "cmpp-rouen-rive-gauche"
COORDINATION = "pre-76540-coordination"


def paris_today() -> str:
    """Today as the PRE counts days (its dates are checked in Europe/Paris)."""
    return datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()


class Flow:
    def __init__(self, stack: Any, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self.parcours = stack.url("parcours")
        self.referent_id = str(uuid.uuid4())
        self.coordinator = stack.auth("coordinator", COORDINATION)
        self.referent = {
            "Authorization": "Bearer " + stack.token("referent", COORDINATION, sub=self.referent_id)
        }
        self.partner = stack.auth("partner", CMPP)
        self.institution = stack.auth("institution", SCHOOL)

    async def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        r = await self.http.request(method, f"{self.parcours}{path}", headers=headers, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    async def set_up(self) -> None:
        await register_school(self.http, self.stack)
        await self.call(
            "PUT",
            f"/v1/partners/{CMPP}",
            self.coordinator,
            json={"id": CMPP, "pre_id": PRE, "name": "CMPP Rouen rive gauche", "category": "cmpp"},
        )
        await self.call(
            "PUT",
            f"/v1/referents/{self.referent_id}",
            self.coordinator,
            json={"display_name": "Camille, référente"},
        )

    async def sender_status(self, referral_id: str) -> str:
        r = await self.http.get(
            f"{self.stack.url('referral')}/v1/referrals/{referral_id}", headers=self.institution
        )
        status: str = r.json()["status"]
        return status

    async def feed_kinds(self, headers: dict[str, str]) -> list[str]:
        r = await self.http.get(f"{self.stack.url('notifications')}/v1/feed", headers=headers)
        return [i["kind"].removeprefix("fr.relais.") for i in r.json()["items"]]

    async def until_status(self, referral_id: str, status: str) -> None:
        async def reached() -> bool:
            return await self.sender_status(referral_id) == status

        await eventually(reached)

    async def until_feed(self, headers: dict[str, str], kind: str) -> None:
        async def arrived() -> bool:
            return kind in await self.feed_kinds(headers)

        await eventually(arrived)

    async def take_up(self) -> tuple[str, str]:
        """A referral sent, reviewed, taken up, with a référent, consent and an action."""
        created = await self.http.post(
            f"{self.stack.url('referral')}/v1/referrals",
            json=referral_body(),
            headers=self.institution,
        )
        assert created.status_code == 201, created.text
        referral_id = created.json()["id"]

        async def in_inbox() -> list[dict[str, Any]]:
            page = await self.call("GET", "/v1/situations", self.coordinator)
            return [s for s in page["items"] if referral_id in s["referral_ids"]]

        [situation] = await eventually(in_inbox)
        situation_id = situation["id"]
        meeting = await self.call(
            "POST",
            "/v1/reviews",
            self.coordinator,
            json={
                "meets_on": paris_today(),
                "attendees": [
                    {"name": "Mme Leroy", "organisation": "PRE", "role": "coordinatrice"},
                    {"name": "M. Diallo", "organisation": "CMPP", "role": "psychologue"},
                ],
                "situation_ids": [situation_id],
            },
        )
        await self.call(
            "POST",
            f"/v1/reviews/{meeting['id']}/decisions",
            self.coordinator,
            json={"situation_id": situation_id, "decision": "take_up", "axes": ["health"]},
        )
        await self.until_status(referral_id, "taken_up")
        await self.call(
            "PUT",
            f"/v1/situations/{situation_id}/referent",
            self.coordinator,
            json={"referent_id": self.referent_id},
        )
        return referral_id, situation_id

    async def consent_and_action(self, situation_id: str) -> tuple[str, str]:
        consent = await self.call(
            "POST",
            f"/v1/situations/{situation_id}/consents",
            self.referent,
            json={
                "form": "signed",
                "given_at": datetime.now(UTC).isoformat(),
                "guardians": [{"label": "Mère", "relationship": "mother"}],
                "sole_guardian_reason": "Le père n'exerce pas l'autorité parentale.",
                "scope": [
                    {"partner_id": CMPP, "data_categories": ["identity_and_contact", "health"]}
                ],
            },
        )
        objective = await self.call(
            "POST",
            f"/v1/situations/{situation_id}/plan/objectives",
            self.referent,
            json={"axis": "health", "title": "Comprendre les difficultés de lecture"},
        )
        action = await self.call(
            "POST",
            f"/v1/situations/{situation_id}/plan/objectives/{objective['id']}/actions",
            self.referent,
            json={"title": "Bilan psychologique au CMPP"},
        )
        return consent["id"], action["id"]

    async def hand_over(self, situation_id: str, action_id: str) -> str:
        handover = await self.call(
            "POST",
            f"/v1/situations/{situation_id}/handovers",
            self.referent,
            json={
                "action_id": action_id,
                "partner_id": CMPP,
                "data_categories": ["identity_and_contact", "health"],
                "message": "Merci de proposer un premier rendez-vous à la famille.",
            },
        )
        handover_id: str = handover["id"]
        return handover_id


async def test_the_whole_life_of_a_situation_runs_through_the_api(stack_factory: Any) -> None:
    stack = await stack_factory(extra_env={"PARCOURS_SCHEDULER_INTERVAL_S": "0.5"})
    connection, on_the_wire = await tap_events(stack.amqp_url)
    async with httpx.AsyncClient(timeout=10) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        referral_id, situation_id = await flow.take_up()

        detail = await flow.call("GET", f"/v1/situations/{situation_id}", flow.referent)
        assert detail["referrals"][0]["identity"]["child"]["first_name"] == "Lina"
        await flow.until_feed(flow.referent, "referent.assigned.v1")

        _, action_id = await flow.consent_and_action(situation_id)
        handover_id = await flow.hand_over(situation_id, action_id)
        await flow.until_feed(flow.partner, "handover.requested.v1")

        base = f"/v1/handovers/{handover_id}"
        await flow.call("POST", f"{base}/acceptance", flow.partner, json={})
        await flow.until_feed(flow.referent, "handover.accepted.v1")
        sheet = await flow.call("GET", f"{base}/sheet", flow.partner)
        assert sheet["identity"]["child"]["last_name"] == "Benaliouche"
        assert sheet["health"] == {"reason_categories": []}
        await flow.call("POST", f"{base}/completion", flow.partner, json={"outcome": "achieved"})

        ledger = await flow.call("GET", f"/v1/situations/{situation_id}/disclosures", flow.referent)
        assert [(d["partner_id"], d["data_categories"]) for d in ledger] == [
            (CMPP, ["health", "identity_and_contact"])
        ]

        closed = await flow.call(
            "POST",
            f"/v1/situations/{situation_id}/closure",
            flow.referent,
            json={"exit_reason": "objectives_met", "final_review_held": True},
        )
        await flow.until_status(referral_id, "closed")

        # Six months later, as far as the scheduler can tell.
        conn = await asyncpg.connect(stack.dsn("parcours"))
        try:
            await conn.execute("UPDATE deadlines SET due_on = current_date WHERE kind = 'followup'")
        finally:
            await conn.close()

        async def followup_due() -> list[dict[str, Any]]:
            events = [json.loads(m) for m in on_the_wire]
            return [e for e in events if e["type"] == "fr.relais.followup.due.v1"]

        [due] = await eventually(followup_due)
        assert due["data"]["situation_id"] == situation_id
        assert closed["followup_due_on"] > "2027-01-01"
        await flow.call(
            "POST",
            f"/v1/situations/{situation_id}/followup",
            flow.referent,
            # Held today (a follow-up can't be dated in the future), after the closure.
            json={"outcome": "stable", "held_on": paris_today()},
        )
    await connection.close()
    logs = stack.logs()
    assert "message_parked" not in logs, "a service could not handle a parcours event"
    assert "handler_failed" not in logs
    wire = b"\n".join(on_the_wire).decode()
    for needle in ("Lina", "Benaliouche", "Bilan psychologique", "premier rendez-vous"):
        assert needle not in wire
        assert needle not in logs


async def test_withdrawing_consent_visibly_cuts_the_partner_off(stack_factory: Any) -> None:
    stack = await stack_factory(services=["referral", "parcours", "notifications"])
    async with httpx.AsyncClient(timeout=10) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        _, situation_id = await flow.take_up()
        consent_id, action_id = await flow.consent_and_action(situation_id)
        handover_id = await flow.hand_over(situation_id, action_id)
        base = f"{flow.parcours}/v1/handovers/{handover_id}"
        # Waitlisted, the partner reads the action and its axis; accepted, the whole sheet.
        await flow.call("POST", f"/v1/handovers/{handover_id}/waitlisting", flow.partner, json={})
        assert (await flow.call("GET", f"/v1/handovers/{handover_id}/sheet", flow.partner))[
            "complete"
        ] is False
        await flow.call("POST", f"/v1/handovers/{handover_id}/acceptance", flow.partner, json={})
        assert (await http.get(f"{base}/sheet", headers=flow.partner)).status_code == 200

        withdrawn = await flow.call(
            "POST",
            f"/v1/situations/{situation_id}/consents/{consent_id}/withdrawal",
            flow.referent,
            json={"guardian": "Mère"},
        )
        assert withdrawn["partners_cut_off"] == [CMPP]
        refused = await http.get(f"{base}/sheet", headers=flow.partner)
        assert refused.status_code == 403
        assert "annulé" in refused.json()["message"]
        await flow.until_feed(flow.partner, "handover.cancelled.v1")
        again = await http.post(
            f"{flow.parcours}/v1/situations/{situation_id}/handovers",
            json={"action_id": action_id, "partner_id": CMPP, "data_categories": ["health"]},
            headers=flow.referent,
        )
        assert again.status_code == 403
        assert again.json()["code"] == "consent_scope_exceeded"
        ledger = await flow.call("GET", f"/v1/situations/{situation_id}/disclosures", flow.referent)
        assert len(ledger) == 1
