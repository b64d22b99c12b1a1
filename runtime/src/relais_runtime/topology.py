"""Declaration of the broker topology: exchanges, work queues, retries and parking.

For each work queue ``q`` (a quorum queue):
- bindings from its source exchange (``relais.events`` or ``relais.intake``);
- a binding from ``relais.retry`` (direct) with key ``q``, so a delayed retry or a replay
  reaches ``q`` only and not every queue bound to the original routing key;
- ``x-dead-letter-exchange: relais.parking`` with key ``q``, and an explicit
  ``x-delivery-limit`` as a backstop for messages that crash the process;
- its parking queue ``q.dlq`` bound to ``relais.parking`` with key ``q``.
Each backoff step ``d`` ms is a fanout exchange and a classic queue ``relais.delay.d`` with
``x-message-ttl: d`` dead-lettering to ``relais.retry``; the message keeps its routing key
(the target queue), so one delay queue per step serves every work queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractChannel, ExchangeType

from relais_contracts.topology import (
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    PARKING_EXCHANGE,
    RETRY_EXCHANGE,
    delay_name,
    parking_queue,
)
from relais_runtime import broker


@dataclass(frozen=True)
class WorkQueue:
    name: str
    exchange: str
    binding_keys: tuple[str, ...]


def work_queue_arguments(queue: str, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": PARKING_EXCHANGE,
        "x-dead-letter-routing-key": queue,
    }


async def declare_exchanges(channel: AbstractChannel, delays_ms: Iterable[int]) -> None:
    for name in (EVENTS_EXCHANGE, INTAKE_EXCHANGE):
        await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(RETRY_EXCHANGE, ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(PARKING_EXCHANGE, ExchangeType.DIRECT, durable=True)
    for delay in sorted(set(delays_ms)):
        name = delay_name(delay)
        exchange = await channel.declare_exchange(name, ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={"x-message-ttl": delay, "x-dead-letter-exchange": RETRY_EXCHANGE},
        )
        await queue.bind(exchange, routing_key="")


async def declare_work_queue(
    channel: AbstractChannel, queue: WorkQueue, *, delivery_limit: int
) -> None:
    q = await channel.declare_queue(
        queue.name, durable=True, arguments=work_queue_arguments(queue.name, delivery_limit)
    )
    for key in queue.binding_keys:
        await q.bind(queue.exchange, routing_key=key)
    await q.bind(RETRY_EXCHANGE, routing_key=queue.name)
    parked = await channel.declare_queue(
        parking_queue(queue.name), durable=True, arguments={"x-queue-type": "quorum"}
    )
    await parked.bind(PARKING_EXCHANGE, routing_key=queue.name)


async def declare_topology(
    amqp_url: str,
    queues: Iterable[WorkQueue],
    *,
    delays_ms: Iterable[int],
    delivery_limit: int,
) -> None:
    """Declare everything idempotently. Safe to run from every replica at start-up."""
    connection = await broker.connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare_exchanges(channel, delays_ms)
        for queue in queues:
            await declare_work_queue(channel, queue, delivery_limit=delivery_limit)
    finally:
        await connection.close()
