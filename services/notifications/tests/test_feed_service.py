"""Every event bound to notifications.events reaches the right feeds through the real broker."""

from __future__ import annotations

import uuid

import aio_pika
import pytest

from relais_contracts.v1.parcours import (
    DeadlineOverdue,
    FollowupDue,
    FollowupRecorded,
    HandoverAccepted,
    HandoverCancelled,
    HandoverCompleted,
    HandoverDeclined,
    HandoverRequested,
    HandoverWaitlisted,
    ReferentAssigned,
    SituationOpened,
    SituationReferralAttached,
)
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralSubmitRejected
from relais_notifications.domain.audience import RULES

from .conftest import ServiceFactory, eventually
from .samples import example

pytestmark = pytest.mark.integration

REFERENT = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"
PARTNER = "cmpp-rouen-rive-gauche"


async def parked(amqp_url: str, queue: str = "notifications.events.dlq") -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


async def test_every_bound_event_type_lands_in_the_feeds_of_its_audience(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    samples = [
        example(ReferralStatusChanged, 1),
        example(ReferralSubmitRejected),
        example(SituationOpened),
        example(SituationReferralAttached),
        example(ReferentAssigned),
        example(HandoverRequested),
        example(HandoverAccepted),
        example(HandoverDeclined),
        example(HandoverWaitlisted),
        example(HandoverCompleted),
        example(HandoverCancelled),
        example(DeadlineOverdue, 0),
        example(DeadlineOverdue, 1),
        example(FollowupDue),
    ]
    assert {type(s) for s in samples} == set(RULES)
    for sample in samples:
        await service.publish(sample)

    async def all_in() -> bool:
        rows = await service.fetch("SELECT count(DISTINCT event_id) FROM feed_items")
        return bool(rows[0][0] == len(samples))

    await eventually(all_in)
    # Handled, telling no one: nothing parked, no feed item.
    items = await service.fetch("SELECT count(*) FROM feed_items")
    await service.publish(example(FollowupRecorded))

    async def recorded() -> bool:
        return bool(await service.fetch("SELECT 1 FROM followups_recorded"))

    await eventually(recorded)
    assert await parked(service.amqp_url) == 0
    assert await service.fetch("SELECT count(*) FROM feed_items") == items

    async def feed(headers: dict[str, str]) -> list[str]:
        r = await service.http.get("/v1/feed", headers=headers)
        assert r.status_code == 200, r.text
        return [
            item["kind"].split(".")[2] + "." + item["kind"].split(".")[3]
            for item in r.json()["items"]
        ]

    sender = await feed(service.token("institution", "ecole-jules-ferry"))
    assert sorted(sender) == ["referral.status_changed", "referral.submit_rejected"]
    partner = await feed(service.token("partner", PARTNER))
    assert sorted(partner) == ["deadline.overdue", "handover.cancelled", "handover.requested"]
    referent = await feed(service.token("referent", "pre-76540-equipe", sub=REFERENT))
    assert sorted(referent) == sorted(
        [
            "referent.assigned",
            "handover.accepted",
            "handover.declined",
            "handover.waitlisted",
            "handover.completed",
            "deadline.overdue",
            "followup.due",
        ]
    )
    coordinator = await feed(service.token("coordinator", "pre-76540-coordination"))
    assert sorted(coordinator) == [
        "deadline.overdue",
        "situation.opened",
        "situation.referral_attached",
    ]
    other_tenant = await feed(service.token("coordinator", "x", tenant="pre-14118"))
    assert other_tenant == []


async def test_a_redelivered_event_makes_no_second_feed_item(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    event_id = uuid.uuid4()
    for _ in range(2):
        await service.publish(example(HandoverRequested), event_id=event_id)

    async def one() -> bool:
        return len(await service.fetch("SELECT 1 FROM feed_items")) == 1

    await eventually(one)
    headers = service.token("partner", PARTNER)
    body = (await service.http.get("/v1/feed", headers=headers)).json()
    assert body["unread"] == 1
    assert "R-E7F8A9B0" in body["items"][0]["title"]


async def test_an_item_for_all_coordinators_stays_unread_for_each_until_they_read_it(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    await service.publish(example(SituationOpened))
    alice = service.token("coordinator", "pre-76540-coordination", sub="alice")
    bruno = service.token("coordinator", "pre-76540-coordination", sub="bruno")

    async def arrived() -> bool:
        body = (await service.http.get("/v1/feed", headers=alice)).json()
        return bool(body["unread"] == 1)

    await eventually(arrived)
    read = await service.http.post("/v1/feed/read", json={}, headers=alice)
    assert read.json() == {"marked": 1, "unread": 0}
    again = await service.http.post("/v1/feed/read", json={}, headers=alice)
    assert again.json() == {"marked": 0, "unread": 0}
    alice_feed = (await service.http.get("/v1/feed", headers=alice)).json()
    assert alice_feed["items"][0]["read_at"] is not None
    bruno_feed = (await service.http.get("/v1/feed", headers=bruno)).json()
    assert bruno_feed["unread"] == 1
    assert bruno_feed["items"][0]["read_at"] is None


async def test_a_referral_joining_a_situation_in_parcours_reaches_the_coordinators(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    await service.publish(example(SituationReferralAttached))
    coordinator = service.token("coordinator", "pre-76540-coordination")

    async def told() -> list[dict[str, object]]:
        body = (await service.http.get("/v1/feed", headers=coordinator)).json()
        return list(body["items"])

    [item] = await eventually(told)
    assert item["title"] == "Nouvelle orientation jointe à la situation S-5C0E8F4A."
    assert item["link"].endswith("/v1/situations/5c0e8f4a-2b7d-4c1e-8a3f-9d6b2e1f0a77")
    sender = (
        await service.http.get("/v1/feed", headers=service.token("institution", "ccas-rouen"))
    ).json()
    assert sender["items"] == []
