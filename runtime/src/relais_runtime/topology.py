"""Declaration of the broker topology: exchanges, work queues, retries and parking.

For each work queue ``q`` (a quorum queue):
- bindings from its source exchange (``relais.events`` or ``relais.intake``);
- a binding from ``relais.retry`` (direct) with key ``q``, so a delayed retry or a replay
  reaches ``q`` only and not every queue bound to the original routing key;
- ``x-dead-letter-exchange: relais.parking`` with key ``q``, and an explicit
  ``x-delivery-limit`` as a backstop for messages that crash the process;
- its parking queue ``q.dlq`` bound to ``relais.parking`` with key ``q``.
Each backoff step ``d`` ms is a fanout exchange ``relais.delay.d`` and a quorum queue
``relais.delay.d.quorum`` with ``x-message-ttl: d`` dead-lettering to ``relais.retry``; the
message keeps its routing key (the target queue), so one delay queue per step serves every
work queue. Dead-lettering is at-least-once (which needs ``x-overflow: reject-publish``): an
expired message leaves the delay queue only once ``relais.retry`` confirmed it, so a node
lost on the way loses no retry (ADR 0016).

Before that, the delay queue was a classic queue named like its exchange. A queue's type
cannot change, so the start-up declaration retires it: the quorum queue is bound first, then
the classic one is unbound (no new message reaches it) and deleted once empty (what it holds
still expires into ``relais.retry``; a later start deletes it if it was not empty yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, ExchangeType

from relais_contracts.topology import (
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    PARKING_EXCHANGE,
    RETRY_EXCHANGE,
    delay_name,
    delay_queue,
    parking_queue,
)
from relais_runtime import broker

log = structlog.get_logger("relais.topology")


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


def delay_queue_arguments(delay_ms: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": RETRY_EXCHANGE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare_exchanges(channel: AbstractChannel, delays_ms: Iterable[int]) -> None:
    for name in (EVENTS_EXCHANGE, INTAKE_EXCHANGE):
        await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(RETRY_EXCHANGE, ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(PARKING_EXCHANGE, ExchangeType.DIRECT, durable=True)
    for delay in sorted(set(delays_ms)):
        exchange = await channel.declare_exchange(
            delay_name(delay), ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(
            delay_queue(delay), durable=True, arguments=delay_queue_arguments(delay)
        )
        await queue.bind(exchange, routing_key="")


async def retire_classic_delay_queue(connection: AbstractConnection, delay_ms: int) -> bool:
    """Unbind the classic delay queue of before, delete it if empty; True once it is gone.

    Called after the quorum queue is bound, so the delay exchange never lacks a queue.
    """
    name = delay_name(delay_ms)
    # A passive declare of a missing queue closes its channel: a channel for this alone.
    channel = await connection.channel()
    try:
        try:
            queue = await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return True  # nothing to retire (every broker set up since)
        await queue.unbind(name, routing_key="")
        try:
            await queue.delete(if_unused=False, if_empty=True)
        except aio_pika.exceptions.ChannelPreconditionFailed:
            log.warning("classic_delay_queue_draining", queue=name)
            return False
        log.info("classic_delay_queue_retired", queue=name)
        return True
    finally:
        if not channel.is_closed:
            await channel.close()


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
        delays = sorted(set(delays_ms))
        await declare_exchanges(channel, delays)
        for delay in delays:
            await retire_classic_delay_queue(connection, delay)
        for queue in queues:
            await declare_work_queue(channel, queue, delivery_limit=delivery_limit)
    finally:
        await connection.close()
