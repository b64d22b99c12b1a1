"""The messaging rules against the real broker and database: outbox, inbox, retries, parking."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from prometheus_client import REGISTRY

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralWithdrawn
from relais_runtime import outbox
from relais_runtime.consumer import EventConsumer, ParkingNotice, PermanentError, Tx
from relais_runtime.db import Conn
from relais_runtime.parking import ParkingLot
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings
from relais_runtime.testing import eventually
from relais_runtime.topology import WorkQueue

pytestmark = pytest.mark.integration

TENANT = "pre-76540"


def withdrawn(referral_id: uuid.UUID | None = None) -> ReferralWithdrawn:
    return ReferralWithdrawn(
        referral_id=referral_id or uuid.uuid4(),
        subject_id=uuid.uuid4(),
        institution_id="ecole-test",
        withdrawn_at=datetime.now(UTC),
    )


def envelope(data: ReferralWithdrawn | None = None) -> CloudEvent[Any]:
    data = data or withdrawn()
    return new_event(
        data, source="/relais/referral", subject=str(data.referral_id), tenant=TENANT, sequence=1
    )


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    (tmp_path / "0001_effects.sql").write_text(
        "CREATE TABLE effects (message_id text NOT NULL, queue text NOT NULL);"
    )
    return tmp_path


@pytest.fixture
def queue_name() -> str:
    return f"test.q-{uuid.uuid4().hex[:8]}"


Factory = Callable[..., Awaitable[ServiceRuntime]]


@pytest.fixture
async def make_runtime(
    amqp_url: str, database_dsn: str, migrations: Path
) -> AsyncIterator[Factory]:
    started: list[ServiceRuntime] = []

    async def factory(*queues: WorkQueue, **overrides: Any) -> ServiceRuntime:
        settings = RelaisSettings(
            amqp_url=amqp_url,
            database_url=database_dsn,
            retry_delays_ms=overrides.pop("retry_delays_ms", [200, 400]),
            immediate_attempts=overrides.pop("immediate_attempts", 2),
            outbox_poll_interval_s=0.2,
            **overrides,
        )
        runtime = ServiceRuntime(
            settings, service="testsvc", migrations_dir=migrations, queues=queues
        )
        return runtime

    async def start(runtime: ServiceRuntime) -> None:
        await runtime.start()
        started.append(runtime)

    factory.start = start  # type: ignore[attr-defined]
    yield factory
    for runtime in reversed(started):
        await runtime.stop()


async def publish_raw(
    amqp_url: str,
    body: bytes,
    routing_key: str,
    message_id: str | None = None,
    headers: dict[str, Any] | None = None,
) -> None:
    await publish_bodies(amqp_url, [(body, routing_key, message_id, headers)])


async def publish_bodies(
    amqp_url: str, messages: list[tuple[bytes, str, str | None, dict[str, Any] | None]]
) -> None:
    """Publish (body, routing key, message id, headers) on one channel, all at once."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        body,
                        message_id=message_id or uuid.uuid4().hex,
                        content_type=CLOUDEVENTS_CONTENT_TYPE,
                        headers=headers,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=routing_key,
                    mandatory=True,
                )
                for body, routing_key, message_id, headers in messages
            )
        )


def record_effect(runtime: ServiceRuntime, queue: str, calls: list[str] | None = None) -> None:
    consumer = runtime.consumer(queue)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        if calls is not None:
            calls.append(str(event.id))
        await tx.conn.execute(
            "INSERT INTO effects (message_id, queue) VALUES ($1, $2)", str(event.id), queue
        )


async def effects(runtime: ServiceRuntime, queue: str | None = None) -> list[str]:
    rows = await runtime.pool.fetch(
        "SELECT message_id FROM effects WHERE $1::text IS NULL OR queue = $1", queue
    )
    return [r["message_id"] for r in rows]


def unroutable_event() -> CloudEvent[Any]:
    """No test queue binds status changes: nothing can route this event."""
    data = ReferralStatusChanged(
        referral_id=uuid.uuid4(),
        institution_id="ecole-test",
        status=ReferralStatus.RECEIVED,
        changed_at=datetime.now(UTC),
    )
    return new_event(data, source="/relais/referral", subject="r", tenant=TENANT, sequence=1)


def bound(queue: str) -> WorkQueue:
    return WorkQueue(queue, EVENTS_EXCHANGE, ("referral.withdrawn.v1.*",))


async def test_event_committed_with_state_is_published_and_handled(
    make_runtime: Factory, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, event)

    async def handled() -> bool:
        return await effects(runtime) == [str(event.id)]

    await eventually(handled)

    async def outbox_empty() -> bool:
        # The relay deletes the row when it commits, which may be just after delivery.
        return await runtime.pool.fetchval("SELECT count(*) FROM relais_outbox") == 0

    await eventually(outbox_empty)


async def test_rolled_back_transaction_publishes_nothing(
    make_runtime: Factory, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]

    class Boom(Exception):
        pass

    async def write_then_fail() -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, envelope())
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()
    committed = envelope()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, committed)

    async def handled() -> bool:
        return bool(await effects(runtime))

    await eventually(handled)
    await asyncio.sleep(0.5)
    assert await effects(runtime) == [str(committed.id)]


async def test_unroutable_event_stays_in_the_outbox_with_its_error(
    make_runtime: Factory,
) -> None:
    runtime = await make_runtime()
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = unroutable_event()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, event)

    async def failed_once() -> bool:
        row = await runtime.pool.fetchrow("SELECT attempts, last_error FROM relais_outbox")
        return row is not None and row["attempts"] >= 1

    await eventually(failed_once)
    row = await runtime.pool.fetchrow("SELECT id, last_error FROM relais_outbox")
    assert row["id"] == event.id
    assert "NO_ROUTE" in row["last_error"] or "312" in row["last_error"]


async def test_maintenance_samples_the_outbox_age_and_the_parked_messages_for_metrics(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name), maintenance_interval_s=0.2)
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    # An event nothing routes stays in the outbox; a poison message is parked.
    stuck = unroutable_event()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, stuck)
    await publish_raw(amqp_url, b"{not json", "referral.withdrawn.v1.pre-76540")
    labels = {"service": "testsvc"}

    async def sampled() -> bool:
        parked = REGISTRY.get_sample_value(
            "relais_parked_messages", {**labels, "queue": queue_name}
        )
        oldest = REGISTRY.get_sample_value("relais_outbox_oldest_seconds", labels)
        return parked == 1 and oldest is not None and oldest >= 0.5

    await eventually(sampled)
    assert REGISTRY.get_sample_value("relais_outbox_pending", labels) == 1

    await runtime.pool.execute("DELETE FROM relais_outbox")

    async def emptied() -> bool:
        return REGISTRY.get_sample_value("relais_outbox_oldest_seconds", labels) == 0

    await eventually(emptied)


async def test_message_delivered_twice_has_one_effect(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    calls: list[str] = []
    record_effect(runtime, queue_name, calls)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    body = event.model_dump_json().encode()
    for _ in range(2):
        await publish_raw(amqp_url, body, event.routing_key(), str(event.id))
    follower = envelope()
    await publish_raw(amqp_url, follower.model_dump_json().encode(), follower.routing_key())

    async def both_seen() -> bool:
        return len(await effects(runtime)) == 2

    await eventually(both_seen)
    await asyncio.sleep(0.3)
    assert sorted(await effects(runtime)) == sorted([str(event.id), str(follower.id)])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (json.dumps({"specversion": "1.0", "id": "x"}).encode(), "invalid_envelope"),
        ("schema", "schema_violation"),
    ],
)
async def test_poison_message_is_parked_with_its_reason_and_does_not_block_the_queue(
    make_runtime: Factory, amqp_url: str, queue_name: str, body: bytes | str, reason: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    if body == "schema":
        broken = json.loads(envelope().model_dump_json())
        broken["data"]["institution_id"] = "Not A Slug"
        broken["data"]["child_name"] = "Jean Dupont"
        body = json.dumps(broken).encode()
    assert isinstance(body, bytes)
    await publish_raw(amqp_url, body, "referral.withdrawn.v1.pre-76540", "poison-1")
    good = envelope()
    await publish_raw(amqp_url, good.model_dump_json().encode(), good.routing_key())

    async def good_handled() -> bool:
        return await effects(runtime) == [str(good.id)]

    await eventually(good_handled)
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(queue_name)) == 1

    await eventually(parked)
    [message] = await lot.browse(queue_name)
    assert message.message_id == "poison-1"
    assert message.reason == reason
    assert "Jean Dupont" not in message.error


async def test_a_parked_message_is_told_once_to_the_on_parked_hook_with_its_field_codes(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    told: list[ParkingNotice] = []

    @runtime.consumer(queue_name).on_parked
    async def remember(parked: ParkingNotice, conn: Conn) -> None:
        told.append(parked)
        await conn.execute(
            "INSERT INTO effects (message_id, queue) VALUES ($1, 'told')", parked.message_id
        )

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    broken = json.loads(envelope().model_dump_json())
    broken["data"]["institution_id"] = "Not A Slug"
    broken["data"]["child_name"] = "Jean Dupont"
    body = json.dumps(broken).encode()
    for _ in range(2):  # parked, then replayed as is: told once
        await publish_raw(amqp_url, body, "referral.withdrawn.v1.pre-76540", "poison-2")
    lot = ParkingLot(amqp_url)

    async def both_parked() -> bool:
        return len(await lot.browse(queue_name)) == 2

    await eventually(both_parked)
    [parked] = told
    assert parked.message_id == "poison-2"
    assert parked.routing_key == "referral.withdrawn.v1.pre-76540"
    assert parked.reason == "schema_violation"
    assert "data.institution_id:string_pattern_mismatch" in parked.fields
    assert "data.child_name:extra_forbidden" in parked.fields
    assert parked.envelope is not None
    assert "Jean Dupont" not in str(parked.fields)
    assert await effects(runtime, "told") == ["poison-2"]


async def test_a_failing_on_parked_hook_does_not_keep_a_poison_message_from_being_parked(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)

    @runtime.consumer(queue_name).on_parked
    async def broken_hook(parked: ParkingNotice, conn: Conn) -> None:
        raise ValueError("a bug in the hook")

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    await publish_raw(amqp_url, b"{not json", "referral.withdrawn.v1.pre-76540", "poison-3")
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return [m.message_id for m in await lot.browse(queue_name)] == ["poison-3"]

    await eventually(parked)


async def test_failing_handler_is_retried_with_delays_then_parked(
    make_runtime: Factory, queue_name: str, amqp_url: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    attempts: list[float] = []
    consumer = runtime.consumer(queue_name)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        attempts.append(asyncio.get_running_loop().time())
        raise RuntimeError("database of a partner is down")

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(queue_name)) == 1

    await eventually(parked)
    # 2 immediate attempts, then after 200 ms 2 more, then after 400 ms 2 more.
    assert len(attempts) == 6
    assert attempts[2] - attempts[1] >= 0.18
    assert attempts[4] - attempts[3] >= 0.38
    [message] = await lot.browse(queue_name)
    assert message.reason == "retries_exhausted"
    assert "RuntimeError: database of a partner is down" in message.error


async def test_transient_failure_succeeds_on_a_delayed_retry(
    make_runtime: Factory, queue_name: str, amqp_url: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    attempts: list[str] = []
    consumer = runtime.consumer(queue_name)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        attempts.append(str(event.id))
        if len(attempts) <= 2:
            raise ConnectionError("flaky")
        await tx.conn.execute("INSERT INTO effects VALUES ($1, $2)", str(event.id), queue_name)

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )

    async def handled() -> bool:
        return await effects(runtime) == [str(event.id)]

    await eventually(handled)
    assert len(attempts) == 3
    assert await ParkingLot(amqp_url).browse(queue_name) == []


async def test_permanent_error_is_parked_without_retrying(
    make_runtime: Factory, queue_name: str, amqp_url: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    attempts: list[str] = []
    consumer = runtime.consumer(queue_name)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        attempts.append(str(event.id))
        raise PermanentError("unknown_institution", "ecole-test is not registered")

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(queue_name)) == 1

    await eventually(parked)
    assert attempts == [str(event.id)]
    assert (await lot.browse(queue_name))[0].reason == "unknown_institution"


async def test_replayed_message_reaches_only_its_own_queue(
    make_runtime: Factory, amqp_url: str
) -> None:
    first, second = f"test.a-{uuid.uuid4().hex[:6]}", f"test.b-{uuid.uuid4().hex[:6]}"
    runtime = await make_runtime(bound(first), bound(second))
    failing = {"on": True}
    consumer = runtime.consumer(first)

    @consumer.handles(ReferralWithdrawn)
    async def on_first(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        if failing["on"]:
            raise PermanentError("not_yet")
        await tx.conn.execute("INSERT INTO effects VALUES ($1, $2)", str(event.id), first)

    record_effect(runtime, second)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(first)) == 1

    await eventually(parked)
    failing["on"] = False
    replayed = await lot.replay(first, str(event.id))
    assert [p.message_id for p in replayed] == [str(event.id)]

    async def handled_by_first() -> bool:
        return await effects(runtime, first) == [str(event.id)]

    await eventually(handled_by_first)
    await asyncio.sleep(0.3)
    assert await effects(runtime, second) == [str(event.id)]
    assert await lot.browse(first) == []


def relais_cli(amqp_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``relais`` operator command, run as a separate process."""
    command = "from relais_runtime.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", command, *args, "--amqp-url", amqp_url],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_retried_then_parked_message_keeps_its_routing_key_and_replays_to_its_consumer_once(
    make_runtime: Factory, amqp_url: str
) -> None:
    first, second = f"test.a-{uuid.uuid4().hex[:6]}", f"test.b-{uuid.uuid4().hex[:6]}"
    runtime = await make_runtime(
        bound(first), bound(second), immediate_attempts=1, retry_delays_ms=[100, 200]
    )
    failing = {"on": True}
    handled_with: list[tuple[str, str]] = []

    @runtime.consumer(first).handles(ReferralWithdrawn)
    async def on_first(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        if failing["on"]:
            raise RuntimeError("partner API down")
        handled_with.append((str(event.id), tx.routing_key))
        await tx.conn.execute("INSERT INTO effects VALUES ($1, $2)", str(event.id), first)

    record_effect(runtime, second)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    original_key = event.routing_key()
    await publish_raw(amqp_url, event.model_dump_json().encode(), original_key, str(event.id))
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(first)) == 1

    await eventually(parked)
    # Through two delay steps (relais.retry, key = the queue name) and still the first key.
    listed = await asyncio.to_thread(relais_cli, amqp_url, "dlq", "list", first, "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["reason"], row["routing_key"]) == ("retries_exhausted", original_key)
    as_text = await asyncio.to_thread(relais_cli, amqp_url, "dlq", "list", first)
    assert original_key in as_text.stdout
    shown = await asyncio.to_thread(relais_cli, amqp_url, "dlq", "show", first, str(event.id))
    assert json.loads(shown.stdout)["routing_key"] == original_key

    failing["on"] = False
    replayed = await asyncio.to_thread(
        relais_cli, amqp_url, "dlq", "replay", first, "--id", str(event.id)
    )
    assert replayed.returncode == 0, replayed.stderr

    async def handled_by_first() -> bool:
        return await effects(runtime, first) == [str(event.id)]

    await eventually(handled_by_first)
    await asyncio.sleep(0.5)  # long enough for a second delivery to show
    # Once, by its own consumer, which sees the key it was first published with.
    assert handled_with == [(str(event.id), original_key)]
    assert await effects(runtime, first) == [str(event.id)]
    assert await effects(runtime, second) == [str(event.id)]  # its original copy only
    assert await lot.browse(first) == []


async def test_a_sender_cannot_name_another_routing_key_in_a_header_to_survive_a_retry(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name), immediate_attempts=1, retry_delays_ms=[100])
    keys: list[str] = []

    @runtime.consumer(queue_name).handles(ReferralWithdrawn)
    async def on_event(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        keys.append(tx.routing_key)
        if len(keys) == 1:
            raise RuntimeError("transient")

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url,
        event.model_dump_json().encode(),
        event.routing_key(),
        str(event.id),
        headers={"x-relais-original-routing-key": "referral.submit.v1.someone-else"},
    )

    async def retried() -> bool:
        return len(keys) == 2

    await eventually(retried)
    # The header a sender wrote is replaced by the key the broker routed on.
    assert keys == [event.routing_key(), event.routing_key()]


async def test_purge_removes_only_the_selected_parked_message(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    for mid in ("bad-1", "bad-2"):
        await publish_raw(amqp_url, b"garbage", "referral.withdrawn.v1.pre-76540", mid)
    lot = ParkingLot(amqp_url)

    async def both_parked() -> bool:
        return len(await lot.browse(queue_name)) == 2

    await eventually(both_parked)
    assert [p.message_id for p in await lot.purge(queue_name, "bad-1")] == ["bad-1"]
    assert [p.message_id for p in await lot.browse(queue_name)] == ["bad-2"]
    assert (await lot.counts([queue_name]))[queue_name] == 1


async def test_a_lost_consumer_shows_on_ready_and_the_watchdog_resubscribes_it(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name), consumer_watchdog_interval_s=0.2)
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    consumer = runtime.consumers[queue_name]
    await consumer.check_consuming()
    # Lose the consumer behind the library's back, as a broker-side cancel would.
    assert consumer._queue is not None
    assert consumer._tag is not None
    channel = await consumer._queue.channel.get_underlay_channel()
    await channel.basic_cancel(consumer._tag)
    with pytest.raises(ConnectionError, match="consumer lost"):
        await consumer.check_consuming()
    up = {"service": "testsvc", "queue": queue_name}

    async def seen_down() -> bool:
        return REGISTRY.get_sample_value("relais_consumer_up", up) == 0

    await eventually(seen_down)

    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )

    async def handled() -> bool:
        return await effects(runtime) == [str(event.id)]

    await eventually(handled)
    await consumer.check_consuming()

    async def seen_up() -> bool:
        return REGISTRY.get_sample_value("relais_consumer_up", up) == 1

    await eventually(seen_up)


async def test_database_outage_outlasting_the_retries_parks_nothing(
    make_runtime: Factory, queue_name: str, amqp_url: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    attempts: list[str] = []
    consumer = runtime.consumer(queue_name)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        attempts.append(str(event.id))
        if len(attempts) <= 10:  # more failures than 2 immediate x (1 + 2 delay steps)
            raise ConnectionRefusedError("database unreachable")
        await tx.conn.execute("INSERT INTO effects VALUES ($1, $2)", str(event.id), queue_name)

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    event = envelope()
    await publish_raw(
        amqp_url, event.model_dump_json().encode(), event.routing_key(), str(event.id)
    )

    async def handled() -> bool:
        return await effects(runtime) == [str(event.id)]

    await eventually(handled, timeout=20)
    assert len(attempts) == 11
    assert await ParkingLot(amqp_url).browse(queue_name) == []


async def publish_many(amqp_url: str, events: list[CloudEvent[Any]]) -> None:
    await publish_bodies(
        amqp_url,
        [(e.model_dump_json().encode(), e.routing_key(), str(e.id), None) for e in events],
    )


def record_batches(
    runtime: ServiceRuntime,
    queue: str,
    batches: list[list[str]],
    *,
    hold_first: asyncio.Event | None = None,
    poison: str = "",
) -> None:
    consumer = runtime.consumer(queue, prefetch=64)

    @consumer.handles_batches
    async def on_events(txs: Sequence[Tx]) -> None:
        ids = [str(tx.incoming.id) for tx in txs]
        batches.append(ids)
        if hold_first is not None and len(batches) == 1:
            await hold_first.wait()
        for tx in txs:
            if str(tx.incoming.id) == poison:
                raise PermanentError("unknown_institution")
            await tx.conn.execute(
                "INSERT INTO effects (message_id, queue) VALUES ($1, $2)",
                str(tx.incoming.id),
                queue,
            )


def held(batches: list[list[str]]) -> Callable[[], Awaitable[bool]]:
    async def first_batch_in_hand() -> bool:
        return len(batches) == 1

    return first_batch_in_hand


def waiting(consumer: EventConsumer, count: int) -> Callable[[], Awaitable[bool]]:
    async def gathered() -> bool:
        return consumer.batcher is not None and consumer.batcher.waiting == count

    return gathered


async def test_messages_gathered_while_a_batch_is_handled_commit_together_and_once_each(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    batches: list[list[str]] = []
    release = asyncio.Event()
    record_batches(runtime, queue_name, batches, hold_first=release)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    consumer = runtime.consumer(queue_name)
    assert consumer.batcher is not None
    assert consumer.batcher.max_size == 32  # half the prefetch: the next batch gathers meanwhile
    first = envelope()
    await publish_many(amqp_url, [first])
    await eventually(held(batches))
    rest = [envelope() for _ in range(20)]
    await publish_many(amqp_url, [*rest, rest[3], rest[7]])  # two delivered twice
    await eventually(waiting(consumer, 22))
    release.set()

    async def all_seen() -> bool:
        return len(await effects(runtime)) == 21

    await eventually(all_seen)
    await asyncio.sleep(0.3)
    assert sorted(await effects(runtime)) == sorted(str(e.id) for e in [first, *rest])
    assert batches == [[str(first.id)], [str(e.id) for e in rest]]


async def test_a_poison_message_in_a_batch_is_parked_alone_and_its_batch_mates_take_effect(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    batches: list[list[str]] = []
    release = asyncio.Event()
    events = [envelope() for _ in range(10)]
    poison = str(events[4].id)
    record_batches(runtime, queue_name, batches, hold_first=release, poison=poison)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    consumer = runtime.consumer(queue_name)
    await publish_many(amqp_url, [envelope()])
    await eventually(held(batches))
    await publish_many(amqp_url, events)
    await eventually(waiting(consumer, 10))
    release.set()
    lot = ParkingLot(amqp_url)

    async def parked() -> bool:
        return len(await lot.browse(queue_name)) == 1

    await eventually(parked)
    [message] = await lot.browse(queue_name)
    assert (message.message_id, message.reason) == (poison, "unknown_institution")

    async def mates_done() -> bool:
        return len(await effects(runtime)) == 10

    await eventually(mates_done)
    assert poison not in await effects(runtime)
    # The failed batch of ten, then each of its messages alone.
    assert batches[1] == [str(e.id) for e in events]
    assert sorted(b[0] for b in batches[2:]) == sorted(str(e.id) for e in events)


async def ready_in_queue(amqp_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (unacked ones not counted until their channel closes)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count


def in_hand(consumer: EventConsumer, count: int) -> Callable[[], Awaitable[bool]]:
    """Whether ``count`` messages are in hand (one leaves once its ack is written)."""

    async def check() -> bool:
        return len(consumer._in_hand) == count

    return check


async def test_a_message_still_in_its_transaction_is_not_acked_with_those_after_it(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    """Acks leave together (a multiple ack) but never cover a message not committed yet."""
    runtime = await make_runtime(bound(queue_name))
    consumer = runtime.consumer(queue_name)
    release = asyncio.Event()
    seen: list[str] = []

    @consumer.handles(ReferralWithdrawn)
    async def on_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        seen.append(str(event.id))
        await tx.conn.execute("INSERT INTO effects (message_id, queue) VALUES ($1, 'q')", seen[-1])
        if len(seen) == 1:
            await release.wait()  # the first delivery holds its transaction open

    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    await publish_many(amqp_url, [envelope() for _ in range(6)])

    async def five_committed() -> bool:
        return len(await effects(runtime)) == 5

    await eventually(five_committed)
    await eventually(in_hand(consumer, 1))  # the acks of the five (held a moment) are out
    # Closing the consumer's channel returns what it has not acked to the queue: only the
    # message whose transaction is still open.
    assert consumer._channel is not None
    await consumer._channel.close()
    assert await eventually(lambda: ready_in_queue(amqp_url, queue_name)) == 1
    release.set()


async def test_messages_handled_side_by_side_are_all_acked_once_committed(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    record_effect(runtime, queue_name)
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    events = [envelope() for _ in range(50)]
    await publish_many(amqp_url, events)

    async def all_committed() -> bool:
        return len(await effects(runtime)) == 50

    await eventually(all_committed)
    consumer = runtime.consumer(queue_name)
    assert consumer._channel is not None
    await eventually(in_hand(consumer, 0))
    await consumer._channel.close()  # anything not acked would go back to the queue
    await asyncio.sleep(0.2)
    assert await ready_in_queue(amqp_url, queue_name) == 0


async def test_a_batch_with_a_parked_message_leaves_nothing_unacked(
    make_runtime: Factory, amqp_url: str, queue_name: str
) -> None:
    runtime = await make_runtime(bound(queue_name))
    batches: list[list[str]] = []
    events = [envelope() for _ in range(12)]
    record_batches(runtime, queue_name, batches, poison=str(events[5].id))
    await make_runtime.start(runtime)  # type: ignore[attr-defined]
    await publish_many(amqp_url, events)
    lot = ParkingLot(amqp_url)

    async def settled() -> bool:
        return len(await effects(runtime)) == 11 and len(await lot.browse(queue_name)) == 1

    await eventually(settled)
    consumer = runtime.consumer(queue_name)
    assert consumer._channel is not None
    await eventually(in_hand(consumer, 0))
    await consumer._channel.close()
    await asyncio.sleep(0.2)
    assert await ready_in_queue(amqp_url, queue_name) == 0
    assert len(await lot.browse(queue_name)) == 1  # parked once, not again after a redelivery
