"""Two institutions refer the same child: one situation, and each sender hears back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest

from relais_contracts.envelope import new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_contracts.v1.parcours import ReviewDecided
from tests.e2e.test_backbone_flow import dump_database, eventually, tap_events

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"
COORDINATION = "pre-76540-coordination"

IDENTIFYING = (
    "Éloïse",
    "Eloise",
    "ELOISE",
    "Le Gall",
    "le gall",
    "2017-03-14",
    "0612345678",
    "06 12 34 56 78",
    "durand@ecole.example",
    "cpe@college.example",
    "Fatigue",
    "Absences",
)


def fiche(first: str, last: str, referrer_email: str, description: str) -> dict[str, Any]:
    return {
        "pre_id": PRE,
        "child": {
            "first_name": first,
            "last_name": last,
            "birth_date": "2017-03-14",
            "sex": "female",
            "school_level": "ce2",
            "lives_in_qpv": "yes",
        },
        "guardians": [
            {
                "first_name": "Samira",
                "last_name": "Le Gall",
                "relationship": "mother",
                "phone": "06 12 34 56 78",
                "languages": ["fr", "ar"],
                "interpreter_needed": True,
            }
        ],
        "referrer": {"name": "Référent", "role": "direction", "email": referrer_email},
        "reasons": {"categories": ["learning_difficulties"], "description": description},
        "axes": ["schooling"],
        "parents_informed": True,
        "parents_agree": True,
    }


async def register(http: httpx.AsyncClient, stack: Any, institution_id: str) -> None:
    r = await http.put(
        f"{stack.url('referral')}/v1/institutions/{institution_id}",
        json={"id": institution_id, "pre_id": PRE, "name": institution_id, "category": "school"},
        headers=stack.auth("admin", COORDINATION),
    )
    assert r.status_code == 200, r.text


async def publish_decision(amqp_url: str, decision: ReviewDecided) -> None:
    """The PRE's team review decides (as parcours would publish it)."""
    event = new_event(decision, source="/relais/parcours", tenant=PRE, sequence=100)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                message_id=str(event.id),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.routing_key(),
        )


async def test_a_second_institution_refers_the_same_child_and_both_senders_follow_their_own(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    connection, on_the_wire = await tap_events(stack.amqp_url)
    referral_url = f"{stack.url('referral')}/v1/referrals"
    school = stack.auth("institution", SCHOOL)
    college = stack.auth("institution", COLLEGE)
    async with httpx.AsyncClient(timeout=10) as http:
        await register(http, stack, SCHOOL)
        await register(http, stack, COLLEGE)

        first = await http.post(
            referral_url,
            json=fiche("Éloïse", "Le Gall-Martin", "durand@ecole.example", "Fatigue en classe."),
            headers=school | {"Idempotency-Key": "jf-2026-001"},
        )
        assert first.status_code == 201, first.text

        # Another institution, another keyboard: no accents, other case, no hyphen.
        second = await http.post(
            referral_url,
            json=fiche("ELOISE", "le gall martin", "cpe@college.example", "Absences répétées."),
            headers=college,
        )
        assert second.status_code == 201, second.text
        # The college is not told the PRE already knows the child (the PRE is: same situation).
        assert "known_subject" not in second.json()
        ids = {SCHOOL: first.json()["id"], COLLEGE: second.json()["id"]}

        async def status_of(org: str, headers: dict[str, str]) -> list[str]:
            r = await http.get(f"{referral_url}/{ids[org]}", headers=headers)
            return [t["status"] for t in r.json()["timeline"]]

        async def last_statuses() -> list[str]:
            return [(await status_of(o, h))[-1] for o, h in ((SCHOOL, school), (COLLEGE, college))]

        async def both_under_review() -> bool:
            return await last_statuses() == ["under_review", "under_review"]

        await eventually(both_under_review)

        coordinator = stack.auth("coordinator", COORDINATION)
        situations = (
            await http.get(f"{stack.url('parcours')}/v1/situations", headers=coordinator)
        ).json()["items"]
        assert len(situations) == 1, "one child, one situation"
        [situation] = situations
        assert sorted(situation["referral_ids"]) == sorted(ids.values())

        decision = ReviewDecided(
            review_id=uuid.uuid4(),
            situation_id=uuid.UUID(situation["id"]),
            subject_id=uuid.uuid4(),
            referral_ids=[uuid.UUID(i) for i in ids.values()],
            decision="take_up",
            axes=["schooling"],
            decided_at=datetime.now(UTC),
        )
        await publish_decision(stack.amqp_url, decision)

        async def both_taken_up() -> bool:
            return await last_statuses() == ["taken_up", "taken_up"]

        await eventually(both_taken_up)
        assert await status_of(SCHOOL, school) == ["received", "under_review", "taken_up"]
        assert await status_of(COLLEGE, college) == ["received", "under_review", "taken_up"]

        # Each sender sees its own referral, its own fiche, and nothing of the other's.
        mine = (await http.get(f"{referral_url}/{ids[COLLEGE]}", headers=college)).json()
        assert mine["referral"]["reasons"]["description"] == "Absences répétées."
        hidden = await http.get(f"{referral_url}/{ids[SCHOOL]}", headers=college)
        assert hidden.status_code == 404
        listed = (await http.get(referral_url, headers=school)).json()
        assert [i["id"] for i in listed["items"]] == [ids[SCHOOL]]
        taken = (await http.get(f"{referral_url}?status=taken_up", headers=college)).json()
        assert taken["total"] == 1

        # Taken up: too late to withdraw, said in French.
        late = await http.post(f"{referral_url}/{ids[SCHOOL]}/withdraw", headers=school)
        assert late.status_code == 409
        assert "déjà pris en charge" in late.json()["message"]

    await asyncio.sleep(0.5)
    await connection.close()
    wire = b"\n".join(on_the_wire).decode()
    assert wire.count("fr.relais.referral.submitted.v1") == 2
    assert "fr.relais.situation.referral_attached.v1" in wire
    places = {"broker": wire, "logs": stack.logs()}
    places |= {name: dump_database(stack.dsn(name)) for name in stack.config.databases}
    for where, text in places.items():
        for needle in IDENTIFYING:
            assert needle not in text, f"{needle!r} found in {where}"
