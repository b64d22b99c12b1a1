"""Operations on parked messages (a work queue's ``<queue>.dlq``): list, show, replay, purge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from relais_contracts import topology
from relais_contracts.topology import RETRY_EXCHANGE, parking_queue
from relais_runtime import broker
from relais_runtime.consumer import ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER

# What parking and retrying wrote, left behind on replay. The original exchange and
# routing key are not among them: a replayed message keeps them (set afresh from
# ``describe``), so its consumer sees the route it was first published with.
PARKING_HEADERS = {
    "x-relais-parked-reason",
    "x-relais-error",
    "x-relais-parked-at",
    "x-relais-queue",
    "x-relais-retry",
    "x-relais-last-error",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-delivery-count",
}


@dataclass(frozen=True)
class ParkedMessage:
    queue: str
    message_id: str | None
    reason: str
    error: str
    parked_at: str
    #: The exchange and routing key it was first published with (not the retry's).
    exchange: str
    routing_key: str
    type: str | None
    subject: str | None
    body: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "type": self.type,
            "subject": self.subject,
            "reason": self.reason,
            "error": self.error,
            "parked_at": self.parked_at,
            "exchange": self.exchange,
            "routing_key": self.routing_key,
        }


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def _original_route(queue: str, msg: AbstractIncomingMessage) -> tuple[str, str]:
    """Where the message was first published: our headers, else the broker's x-death."""
    headers = dict(msg.headers or {})
    key = _text(headers.get(ORIGINAL_ROUTING_KEY_HEADER))
    if key:
        return _text(headers.get(ORIGINAL_EXCHANGE_HEADER)), key
    # Dead-lettered by the broker (x-delivery-limit): its x-death entry for the work
    # queue names the exchange and keys the message had arrived with.
    deaths = headers.get("x-death")
    for death in deaths if isinstance(deaths, list) else []:
        if isinstance(death, dict) and _text(death.get("queue")) == queue:
            keys = death.get("routing-keys")
            if isinstance(keys, list) and keys:
                return _text(death.get("exchange")), _text(keys[0])
    return msg.exchange or "", msg.routing_key or ""


def describe(queue: str, msg: AbstractIncomingMessage) -> ParkedMessage:
    headers = dict(msg.headers or {})
    reason = _text(headers.get("x-relais-parked-reason"))
    if not reason:
        # Dead-lettered by the broker itself (x-delivery-limit): no reason header of ours.
        reason = _text(headers.get("x-first-death-reason")) or "dead_lettered"
    exchange, routing_key = _original_route(queue, msg)
    ce_type = subject = None
    try:
        parsed = json.loads(msg.body)
        if isinstance(parsed, dict):
            ce_type, subject = parsed.get("type"), parsed.get("subject")
    except ValueError:
        pass
    return ParkedMessage(
        queue=queue,
        message_id=msg.message_id,
        reason=reason,
        error=_text(headers.get("x-relais-error")),
        parked_at=_text(headers.get("x-relais-parked-at")),
        exchange=exchange,
        routing_key=routing_key,
        type=ce_type,
        subject=subject,
        body=msg.body,
    )


class ParkingLot:
    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url

    @asynccontextmanager
    async def _channel(self) -> AsyncIterator[AbstractChannel]:
        connection = await broker.connect(self._url)
        try:
            yield await connection.channel(publisher_confirms=True)
        finally:
            await connection.close()

    async def counts(self, queues: list[str] | None = None) -> dict[str, int]:
        """Parked messages per work queue; queues not declared on this broker are skipped."""
        result: dict[str, int] = {}
        connection = await broker.connect(self._url)
        try:
            for queue in queues or sorted(topology.QUEUES):
                # A passive declare of a missing queue closes its channel: one per queue.
                channel = await connection.channel()
                try:
                    declared = await channel.declare_queue(parking_queue(queue), passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    continue
                result[queue] = declared.declaration_result.message_count or 0
                await channel.close()
        finally:
            await connection.close()
        return result

    async def _walk(
        self,
        queue: str,
        decide: Callable[[ParkedMessage], bool],
        act: Callable[[AbstractChannel, AbstractIncomingMessage], Any] | None,
        limit: int,
    ) -> list[ParkedMessage]:
        """Fetch up to ``limit`` parked messages; act on and ack those ``decide`` selects.

        The others stay unacked while walking (so basic.get moves past them) and return to
        the queue when the channel closes, in their order.
        """
        selected: list[ParkedMessage] = []
        async with self._channel() as channel:
            dlq = await channel.declare_queue(parking_queue(queue), passive=True)
            for _ in range(limit):
                msg = await dlq.get(no_ack=False, fail=False)
                if msg is None:
                    break
                parked = describe(queue, msg)
                if not decide(parked):
                    continue
                if act is not None:
                    await act(channel, msg)
                    await msg.ack()
                selected.append(parked)
        return selected

    async def browse(self, queue: str, limit: int = 100) -> list[ParkedMessage]:
        return await self._walk(queue, lambda _p: True, None, limit)

    async def replay(
        self, queue: str, message_id: str | None = None, limit: int = 10_000
    ) -> list[ParkedMessage]:
        """Send parked messages back to ``queue`` only, with their retry count reset."""

        async def republish(channel: AbstractChannel, msg: AbstractIncomingMessage) -> None:
            exchange = await channel.get_exchange(RETRY_EXCHANGE, ensure=False)
            headers = {k: v for k, v in (msg.headers or {}).items() if k not in PARKING_HEADERS}
            original_exchange, original_key = _original_route(queue, msg)
            headers[ORIGINAL_EXCHANGE_HEADER] = original_exchange
            headers[ORIGINAL_ROUTING_KEY_HEADER] = original_key
            await exchange.publish(
                aio_pika.Message(
                    msg.body,
                    headers=headers,
                    message_id=msg.message_id,
                    correlation_id=msg.correlation_id,
                    content_type=msg.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                mandatory=True,
            )

        return await self._walk(queue, _matcher(message_id), republish, limit)

    async def purge(
        self, queue: str, message_id: str | None = None, limit: int = 10_000
    ) -> list[ParkedMessage]:
        return await self.purge_matching(queue, _matcher(message_id), limit)

    async def purge_matching(
        self, queue: str, decide: Callable[[ParkedMessage], bool], limit: int = 100_000
    ) -> list[ParkedMessage]:
        """Drop the parked messages ``decide`` selects (e.g. :func:`about_child`)."""

        async def drop(_channel: AbstractChannel, _msg: AbstractIncomingMessage) -> None:
            return None

        return await self._walk(queue, decide, drop, limit)


def about_child(ids: Collection[str]) -> Callable[[ParkedMessage], bool]:
    """Whether a parked CloudEvent concerns the child: its subject, or one of the ids
    (``subject_id``, situations, referrals, handovers) in its data, names one of ``ids``.

    A body that is not a CloudEvent cannot be attributed and is left for the operator.
    """
    wanted = {str(i) for i in ids}

    def concerns(parked: ParkedMessage) -> bool:
        try:
            event = json.loads(parked.body)
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        data = event.get("data")
        found = {str(event.get("subject"))}
        if isinstance(data, dict):
            for key, value in data.items():
                if key.endswith("_id"):
                    found.add(str(value))
                elif key.endswith("_ids") and isinstance(value, list):
                    found.update(str(v) for v in value)
        return not wanted.isdisjoint(found)

    return concerns


def _matcher(message_id: str | None) -> Callable[[ParkedMessage], bool]:
    if message_id is None:
        return lambda _p: True
    return lambda p: p.message_id == message_id
