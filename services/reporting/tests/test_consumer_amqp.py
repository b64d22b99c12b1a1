"""The live consumer over the real broker: a payload reporting folds is read tolerantly."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from relais_contracts.envelope import new_event
from relais_contracts.topology import (
    CLOUDEVENTS_CONTENT_TYPE,
    EVENTS_EXCHANGE,
    PARKING_EXCHANGE,
    parking_queue,
)
from relais_contracts.v1.parcours import SubjectErased
from relais_contracts.v1.referral import ReferralSubmitted
from relais_reporting import demo
from relais_reporting.config import ReportingSettings
from relais_reporting.entrypoints.consumers import EVENTS_QUEUE
from relais_reporting.main import create_app
from relais_runtime import testing
from relais_runtime.parking import ParkingLot
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.testing import eventually

pytestmark = pytest.mark.integration

PRE = "pre-76540"


@pytest.fixture
async def runtime(database_dsn: str, amqp_url: str) -> AsyncIterator[ServiceRuntime]:
    settings = ReportingSettings(
        database_url=database_dsn,
        amqp_url=amqp_url,
        retry_delays_ms=[200],
        immediate_attempts=1,
        consumer_watchdog_interval_s=60,
    )
    app = create_app(settings)
    started: ServiceRuntime = app.state.runtime
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def submitted(**data_changes: Any) -> dict[str, Any]:
    """A referral.submitted.v1 as a producer sends it, with ``data`` changed (None drops)."""
    event = next(e for e in demo.school_year(PRE, 2025, 3, seed=21) if e.type.endswith(".v1"))
    body: dict[str, Any] = json.loads(event.model_dump_json())
    assert body["type"] == ReferralSubmitted.ce_type()
    body["id"] = str(uuid.uuid4())
    for key, value in data_changes.items():
        if value is None:
            del body["data"][key]
        else:
            body["data"][key] = value
    return body


async def publish(amqp_url: str, body: dict[str, Any], routing_key: str = "") -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                message_id=body["id"],
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key or ReferralSubmitted.routing_key(PRE),
            mandatory=True,
        )


async def parked(amqp_url: str, message_id: str) -> dict[str, Any] | None:
    """The parking headers of one message, if it was parked (others are put back)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(parking_queue(EVENTS_QUEUE), ensure=False)
        found, seen = None, []
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            seen.append(message)
            if message.message_id == message_id:
                found = dict(message.headers)
        for message in seen:
            await message.nack(requeue=True)
    return found


async def test_a_folded_type_missing_a_required_field_is_parked_at_once_naming_the_field(
    runtime: ServiceRuntime, amqp_url: str
) -> None:
    body = submitted(submitted_at=None)
    await publish(amqp_url, body)
    headers = await eventually(lambda: parked(amqp_url, body["id"]))
    assert headers["x-relais-parked-reason"] == "schema_violation"
    assert "data.submitted_at:missing" in headers["x-relais-error"]
    assert "x-relais-retry" not in headers  # parked at once, not after the retries
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM event_log") == 0
        assert await conn.fetchval("SELECT count(*) FROM fact") == 0


async def test_a_folded_type_with_a_new_optional_field_is_folded_and_the_field_not_kept(
    runtime: ServiceRuntime, amqp_url: str
) -> None:
    body = submitted(transport_needed="oui, le mercredi")
    body["data"]["facts"]["sibling_count"] = 2
    await publish(amqp_url, body)
    referral_id = body["data"]["referral_id"]

    async def folded() -> Any:
        return await runtime.pool.fetchval(
            "SELECT doc FROM fact WHERE kind = 'referral' AND key = $1", referral_id
        )

    doc = await eventually(folded)
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert doc["subject_id"] == body["data"]["subject_id"]
    assert doc["source_category"] == body["data"]["facts"]["source_category"]
    kept = await runtime.pool.fetchval("SELECT data FROM event_log")
    assert "transport_needed" not in str(kept)
    assert "sibling_count" not in str(kept)
    assert await parked(amqp_url, body["id"]) is None


async def test_an_erasure_drops_the_parked_messages_about_the_child_and_keeps_the_others(
    runtime: ServiceRuntime, amqp_url: str
) -> None:
    # A parked referral.submitted still carries the identity sealed to the PRE.
    child, other = (
        submitted(subject_id=str(uuid.uuid4()), referral_id=str(uuid.uuid4())) for _ in range(2)
    )
    dlq = parking_queue(EVENTS_QUEUE)
    before = await testing.message_count(amqp_url, dlq)  # other tests' parked messages
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        parking = await channel.get_exchange(PARKING_EXCHANGE)
        for body in (child, other):
            await parking.publish(
                aio_pika.Message(json.dumps(body).encode(), message_id=body["id"]),
                routing_key=EVENTS_QUEUE,
                mandatory=True,
            )
    assert await testing.message_count(amqp_url, dlq) == before + 2
    erased = SubjectErased(
        subject_id=child["data"]["subject_id"],
        referral_ids=[child["data"]["referral_id"]],
        reason="data_subject_request",
        erased_at=datetime.now(UTC),
    )
    event = new_event(erased, source="/relais/parcours", tenant=PRE, sequence=1)
    await publish(amqp_url, json.loads(event.model_dump_json()), routing_key=event.routing_key())

    async def one_dropped() -> bool:
        return await testing.message_count(amqp_url, dlq) == before + 1

    await eventually(one_dropped)
    lot = ParkingLot(amqp_url)
    left = {p.message_id for p in await lot.browse(EVENTS_QUEUE)}
    assert other["id"] in left
    assert child["id"] not in left
    await lot.purge(EVENTS_QUEUE, other["id"])
