"""Topology declaration against the real broker: delay queues, and retiring the classic ones."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest

from relais_contracts.topology import RETRY_EXCHANGE, delay_name, delay_queue
from relais_runtime import testing
from relais_runtime.topology import WorkQueue, declare_topology

# A vhost of each test's own (not the session's amqp_url): marked by hand.
pytestmark = pytest.mark.integration

DELAY_MS = 1_500
WORK = WorkQueue("topotest.work", "relais.events", ("referral.withdrawn.v1.*",))


@pytest.fixture
def vhost_url(own_vhost: str) -> str:
    """A vhost of this test's own: a classic delay queue made here must not leak."""
    return own_vhost


def rabbitmqctl_rows(amqp_url: str, command: str, *columns: str) -> list[list[str]]:
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    out = subprocess.run(
        [exe, "-q", command, "-p", vhost, "--no-table-headers", *columns],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def queue_types(amqp_url: str) -> dict[str, str]:
    return dict(rabbitmqctl_rows(amqp_url, "list_queues", "name", "type"))


def queues_bound_to(amqp_url: str, exchange: str) -> list[str]:
    rows = rabbitmqctl_rows(amqp_url, "list_bindings", "source_name", "destination_name")
    return sorted(destination for source, destination in rows if source == exchange)


async def declare_classic_delay_queue_as_before(amqp_url: str) -> None:
    """What services declared before the delay queues became quorum queues."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_exchange(RETRY_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
        name = delay_name(DELAY_MS)
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={"x-message-ttl": DELAY_MS, "x-dead-letter-exchange": RETRY_EXCHANGE},
        )
        await queue.bind(exchange, routing_key="")


async def send_to_delay_step(amqp_url: str, message_id: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(delay_name(DELAY_MS), ensure=False)
        await exchange.publish(
            aio_pika.Message(b"{}", message_id=message_id, delivery_mode=2),
            routing_key=WORK.name,
            mandatory=True,
        )


async def received(amqp_url: str, expected: int, timeout_s: float = 15.0) -> list[str]:
    """Message ids reaching the work queue (through the delay step), until ``expected``."""
    ids: list[str] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(WORK.name, passive=True)
        deadline = time.monotonic() + timeout_s
        while len(ids) < expected and time.monotonic() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            ids.append(message.message_id or "")
            await message.ack()
    return ids


async def test_delay_queues_are_quorum_queues_that_send_a_message_back_after_their_delay(
    vhost_url: str,
) -> None:
    await declare_topology(vhost_url, [WORK], delays_ms=[DELAY_MS], delivery_limit=5)

    types = await asyncio.to_thread(queue_types, vhost_url)
    assert types[delay_queue(DELAY_MS)] == "quorum"
    assert delay_name(DELAY_MS) not in types  # no classic delay queue any more
    started = time.monotonic()
    await send_to_delay_step(vhost_url, "m-1")
    assert await received(vhost_url, 1) == ["m-1"]
    assert time.monotonic() - started >= DELAY_MS / 1000 * 0.9


async def test_an_existing_classic_delay_queue_is_unbound_then_deleted_once_it_has_drained(
    vhost_url: str,
) -> None:
    await declare_classic_delay_queue_as_before(vhost_url)
    await declare_topology(vhost_url, [WORK], delays_ms=[], delivery_limit=5)
    await send_to_delay_step(vhost_url, "waiting-in-the-classic-queue")

    # A service of this version starts: the quorum queue takes over; the classic queue,
    # not empty, is kept (unbound) and its message still comes back after its delay.
    await declare_topology(vhost_url, [WORK], delays_ms=[DELAY_MS], delivery_limit=5)
    types = await asyncio.to_thread(queue_types, vhost_url)
    assert types[delay_queue(DELAY_MS)] == "quorum"
    assert types[delay_name(DELAY_MS)] == "classic"
    assert await asyncio.to_thread(queues_bound_to, vhost_url, delay_name(DELAY_MS)) == [
        delay_queue(DELAY_MS)
    ]
    await send_to_delay_step(vhost_url, "sent-after-the-upgrade")
    assert sorted(await received(vhost_url, 2)) == [
        "sent-after-the-upgrade",
        "waiting-in-the-classic-queue",
    ]
    assert await testing.message_count(vhost_url, delay_queue(DELAY_MS)) == 0

    # The next start finds it empty and deletes it; nothing is sent twice.
    await declare_topology(vhost_url, [WORK], delays_ms=[DELAY_MS], delivery_limit=5)
    types = await asyncio.to_thread(queue_types, vhost_url)
    assert delay_name(DELAY_MS) not in types
    await send_to_delay_step(vhost_url, "after-the-retirement")
    assert await received(vhost_url, 2, timeout_s=DELAY_MS / 1000 + 3) == ["after-the-retirement"]
