"""Messages consumed together share one transaction and each statement, with the effect
each would have alone (docs/decisions/0021)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE, parking_queue
from relais_contracts.v1.parcours import ReferentAssigned, SubjectErased
from relais_notifications.domain.audience import Links
from relais_notifications.entrypoints.consumers import EVENTS_QUEUE, batch_handler
from relais_runtime.consumer import Tx
from relais_runtime.testing import eventually

from .conftest import PRE, Service, ServiceFactory
from .samples import example

pytestmark = pytest.mark.integration

SITUATION = uuid.UUID("5c0e8f4a-2b7d-4c1e-8a3f-9d6b2e1f0a77")  # the samples' situation
OTHER = uuid.UUID("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d")


async def handle_together(service: Service, *events: CloudEvent[Any]) -> list[Tx]:
    """Hand ``events`` to the consumer's batch handler, in one transaction."""
    links = Links(referral=service.settings.referral_url, parcours=service.settings.parcours_url)
    handler = batch_handler(service.runtime, links, escalate_after=timedelta(days=1))
    async with service.runtime.pool.acquire() as conn, conn.transaction():
        txs = [Tx(conn, e, service.runtime.source, e.routing_key()) for e in events]
        await handler(txs)
    return txs


def event(data: Any) -> CloudEvent[Any]:
    return new_event(data, source="/relais/parcours", tenant=PRE, sequence=1)


async def test_a_batch_tells_each_event_to_the_subscriptions_that_follow_it_only(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    async with service.runtime.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO subscriptions (id, pre_id, org_id, situation_id, channel, email) "
            "VALUES ($1, $2, 'pre-76540-equipe', $3, 'email', 'suivi@pre.example')",
            uuid.uuid4(),
            PRE,
            SITUATION,
        )
    elsewhere = event(example(ReferentAssigned, situation_id=str(OTHER)))
    followed = event(example(ReferentAssigned))
    third = event(example(ReferentAssigned, situation_id=str(uuid.uuid4())))
    txs = await handle_together(service, elsewhere, followed, third)
    deliveries = await service.fetch("SELECT event_id, situation_id FROM deliveries")
    feed = await service.fetch("SELECT event_id FROM feed_items ORDER BY position")
    # One delivery, for the event about the followed situation; a feed item and its
    # notification.delivered for each of the three events.
    assert [(d["event_id"], d["situation_id"]) for d in deliveries] == [(followed.id, SITUATION)]
    assert [f["event_id"] for f in feed] == [elsewhere.id, followed.id, third.id]
    assert [[e.type for e in tx.emitted] for tx in txs] == [
        ["fr.relais.notification.delivered.v1"]
    ] * 3


async def test_an_erasure_in_a_batch_removes_what_the_events_before_it_told(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    before = event(example(ReferentAssigned))
    after = event(example(ReferentAssigned))  # the same situation, told after the erasure
    await handle_together(service, before, event(example(SubjectErased)), after)
    # What was told before the erasure is gone; what came after it stays, as if each
    # message had been handled alone, in order.
    feed = await service.fetch("SELECT event_id FROM feed_items")
    assert [f["event_id"] for f in feed] == [after.id]


async def parked_reason(amqp_url: str, message_id: str) -> str | None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(parking_queue(EVENTS_QUEUE), ensure=False)
        found, seen = None, []
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            seen.append(message)
            if message.message_id == message_id:
                found = str((message.headers or {}).get("x-relais-parked-reason"))
        for message in seen:
            await message.nack(requeue=True)
    return found


async def test_data_its_contract_refuses_is_parked_at_once_and_its_batch_mates_take_effect(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    bad: dict[str, Any] = json.loads(event(example(ReferentAssigned)).model_dump_json())
    bad["data"]["referent_id"] = "pas-un-identifiant"
    good = event(example(ReferentAssigned, situation_id=str(OTHER)))
    async with await aio_pika.connect(service.amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        for body in (bad, json.loads(good.model_dump_json())):
            await exchange.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    message_id=body["id"],
                    content_type=CLOUDEVENTS_CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=good.routing_key(),
            )
    reason = await eventually(lambda: parked_reason(service.amqp_url, bad["id"]))
    assert reason == "schema_violation"

    async def told() -> bool:
        rows = await service.fetch("SELECT event_id FROM feed_items")
        return [r["event_id"] for r in rows] == [good.id]

    await eventually(told)
