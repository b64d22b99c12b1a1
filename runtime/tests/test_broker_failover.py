"""A broker URL listing several nodes: connections go to one that answers and move on when
theirs goes away (two TCP relays in front of the local RabbitMQ stand for two nodes)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime import broker, outbox, testing
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings
from relais_runtime.topology import WorkQueue

TENANT = "pre-76540"


def test_a_url_listing_nodes_gives_one_url_per_node_with_the_same_user_and_vhost() -> None:
    assert broker.node_urls("amqp://u:p,w@a:5672,b,c:5673/relais?heartbeat=30") == [
        "amqp://u:p,w@a:5672/relais?heartbeat=30",
        "amqp://u:p,w@b/relais?heartbeat=30",
        "amqp://u:p,w@c:5673/relais?heartbeat=30",
    ]
    assert broker.node_urls("amqp://guest:guest@127.0.0.1:5672/") == [
        "amqp://guest:guest@127.0.0.1:5672/"
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def through(amqp_url: str, *ports: int) -> str:
    parts = urlsplit(amqp_url)
    user = parts.netloc.rpartition("@")[0]
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    return f"{parts.scheme}://{user}@{hosts}{parts.path}"


@pytest.fixture
async def relays() -> AsyncIterator[list[testing.TcpProxy]]:
    target = testing.AMQP_BASE
    started = [testing.TcpProxy(target), testing.TcpProxy(target)]
    for relay in started:
        await relay.start()
    yield started
    for relay in started:
        await relay.stop()


@pytest.mark.integration
async def test_short_connections_skip_a_node_that_does_not_answer(amqp_url: str) -> None:
    port = urlsplit(testing.AMQP_BASE).port or 5672
    connection = await broker.connect(through(amqp_url, closed_port(), port))
    async with connection:
        channel = await connection.channel()
        await channel.get_exchange("amq.direct")


@pytest.mark.integration
async def test_a_service_starts_with_a_node_down_and_moves_to_another_when_its_own_goes(
    amqp_url: str, database_dsn: str, tmp_path: Path, relays: list[testing.TcpProxy]
) -> None:
    (tmp_path / "0001_effects.sql").write_text("CREATE TABLE effects (message_id text);")
    queue = f"test.q-{uuid.uuid4().hex[:8]}"
    first, second = relays
    settings = RelaisSettings(
        amqp_url=through(amqp_url, closed_port(), first.port, second.port),
        database_url=database_dsn,
        outbox_poll_interval_s=0.2,
        consumer_watchdog_interval_s=0.5,
    )
    runtime = ServiceRuntime(
        settings,
        service="testsvc",
        migrations_dir=tmp_path,
        queues=[WorkQueue(queue, EVENTS_EXCHANGE, ("referral.withdrawn.v1.*",))],
    )
    consumer = runtime.consumer(queue)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
        await tx.conn.execute("INSERT INTO effects VALUES ($1)", str(event.id))

    async def publish_and_wait() -> None:
        data = ReferralWithdrawn(
            referral_id=uuid.uuid4(),
            subject_id=uuid.uuid4(),
            institution_id="ecole-test",
            withdrawn_at=datetime.now(UTC),
        )
        event = new_event(data, source="/relais/t", subject="s", tenant=TENANT, sequence=1)
        async with runtime.pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, event)
        for _ in range(300):
            if await runtime.pool.fetchval(
                "SELECT count(*) FROM effects WHERE message_id = $1", str(event.id)
            ):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the event was not published and handled in 30 s")

    await runtime.start()
    try:
        await publish_and_wait()
        assert first.serving
        first.cut()  # the node the service was connected to goes away; only second is left
        await publish_and_wait()
        await consumer.check_consuming()
    finally:
        await runtime.stop()
