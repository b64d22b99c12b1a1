"""Erasure: nothing about an erased child stays in notifications."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from relais_contracts.envelope import new_event
from relais_contracts.topology import PARKING_EXCHANGE, parking_queue
from relais_contracts.v1.parcours import (
    DeadlineOverdue,
    HandoverAccepted,
    HandoverRequested,
    SituationOpened,
    SubjectErased,
)
from relais_contracts.v1.referral import ReferralStatusChanged
from relais_notifications.entrypoints.consumers import EVENTS_QUEUE
from relais_notifications.service.digest import send_digests
from relais_runtime import testing
from relais_runtime.parking import ParkingLot
from relais_runtime.testing.helpers import publish_event

from .conftest import ServiceFactory, SmtpFactory, eventually
from .samples import example

pytestmark = pytest.mark.integration

PARTNER = "cmpp-rouen-rive-gauche"


async def test_an_erased_child_leaves_no_feed_item_delivery_digest_line_answer_or_reminder(
    start_service: ServiceFactory, start_smtp: SmtpFactory
) -> None:
    # The digest is made by hand below, not by the dispatcher's daily job.
    service = await start_service(smtp_port=start_smtp().port, dispatch_interval_s=60.0)
    partner = service.token("partner", PARTNER)
    r = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "accueil@cmpp.example", "digest": True},
        headers=partner,
    )
    assert r.status_code == 201, r.text
    kept_situation = str(uuid.uuid4())
    kept_handover = str(uuid.uuid4())
    await service.publish(example(SituationOpened))
    await service.publish(example(DeadlineOverdue, 0))
    await service.publish(example(ReferralStatusChanged, 0))
    await service.publish(example(HandoverRequested))
    await service.publish(example(HandoverAccepted))
    kept = example(SituationOpened, situation_id=kept_situation)
    await service.publish(kept)
    await service.publish(
        example(HandoverRequested, handover_id=kept_handover, situation_id=kept_situation)
    )

    async def all_in() -> bool:
        rows = await service.fetch("SELECT count(DISTINCT event_id) FROM feed_items")
        held = await service.fetch("SELECT 1 FROM deliveries WHERE status = 'digested'")
        answers = await service.fetch("SELECT 1 FROM handover_answers")
        return bool(rows[0][0] == 7 and len(held) == 3 and answers)

    await eventually(all_in)
    # The partner's digest gathers both handovers and the erased one's reminder.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert await send_digests(service.runtime, service.settings, tomorrow) == 1

    erased = example(SubjectErased)
    await publish_event(
        service.amqp_url,
        new_event(erased, source="/relais/parcours", tenant="pre-76540", sequence=1),
    )

    async def gone() -> bool:
        rows = await service.fetch("SELECT link FROM feed_items")
        return len(rows) == 2

    await eventually(gone)
    links = sorted(r["link"] for r in await service.fetch("SELECT link FROM feed_items"))
    assert links == [
        f"https://parcours.example/v1/handovers/{kept_handover}",
        f"https://parcours.example/v1/situations/{kept_situation}",
    ]
    assert await service.fetch("SELECT 1 FROM escalations") == []
    assert await service.fetch("SELECT 1 FROM handover_answers") == []
    # The digest keeps the other child's handover only, in its text and its payload.
    erased_handover = str(example(HandoverRequested).handover_id)
    rows = await service.fetch("SELECT title, body, payload, link FROM deliveries")
    everything = json.dumps([dict(r) for r in rows], default=str)
    assert erased_handover not in everything
    assert str(erased.situation_ids[0]) not in everything
    assert "R-E7F8A9B0" not in everything  # the erased handover's reference
    [digest] = [r for r in rows if r["link"] == ""]
    assert "(1 notification)" in digest["title"]
    assert kept_handover in digest["body"]
    assert [i["link"] for i in digest["payload"]["data"]["items"]] == [
        f"https://parcours.example/v1/handovers/{kept_handover}"
    ]


async def test_an_erasure_drops_the_parked_messages_about_the_child_and_keeps_the_others(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    erased = example(SubjectErased)
    other = uuid.uuid4()
    dlq = parking_queue(EVENTS_QUEUE)
    before = await testing.message_count(service.amqp_url, dlq)  # other tests' parked ones
    connection = await aio_pika.connect(service.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        parking = await channel.get_exchange(PARKING_EXCHANGE)
        for subject_id in (erased.subject_id, other):
            body = {"type": "fr.relais.handover.requested.v1", "subject": str(uuid.uuid4())}
            await parking.publish(
                aio_pika.Message(
                    json.dumps(body | {"data": {"subject_id": str(subject_id)}}).encode(),
                    message_id=f"about-{subject_id}",
                ),
                routing_key=EVENTS_QUEUE,
                mandatory=True,
            )
    assert await testing.message_count(service.amqp_url, dlq) == before + 2

    await service.publish(erased)

    async def one_dropped() -> bool:
        return await testing.message_count(service.amqp_url, dlq) == before + 1

    await eventually(one_dropped)
    lot = ParkingLot(service.amqp_url)
    left = {p.message_id for p in await lot.browse(EVENTS_QUEUE)}
    assert f"about-{other}" in left
    assert f"about-{erased.subject_id}" not in left
    await lot.purge(EVENTS_QUEUE, f"about-{other}")
