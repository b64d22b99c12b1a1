"""Batches of consumed messages handled in one transaction (docs/decisions/0021).

A consumer registered with ``EventConsumer.handles_batches`` does not open a transaction
per message: each message, once parsed, waits here for a short moment; the messages
gathered meanwhile (up to ``max_size``, at most the consumer's prefetch) are claimed in
the inbox with one statement and handed to the handler together, in one transaction,
and each is acked once it committed. While one batch is being handled the next one
gathers, so a busy queue is handled in batches and a quiet one with little delay.

If the batch fails for any reason, none of it committed: every message of it is handled
again on its own (``Outcome`` per message, the usual retries and parking), so one poison
message is parked alone and its batch-mates still take effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from relais_contracts.envelope import CloudEvent

log = structlog.get_logger("relais.consumer")


class BatchFailed(Exception):
    """The batch this message was in rolled back: handle the message on its own."""


@dataclass
class Pending:
    """A parsed message waiting for its batch; ``done`` tells whether it had an effect."""

    event: CloudEvent[Any]
    routing_key: str
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


#: Handles a list of parsed messages in one transaction; returns, for each, whether it was
#: new (True) or already handled (False, a duplicate). Raises if the batch must roll back.
Flush = Callable[[Sequence[Pending]], Awaitable[list[bool]]]


class Batcher:
    """Gathers parsed messages and hands them to ``flush`` in batches, one batch at a time."""

    def __init__(self, flush: Flush, *, max_size: int, linger_s: float) -> None:
        self._flush = flush
        self.max_size = max_size
        self._linger_s = linger_s
        self._waiting: list[Pending] = []
        self._running: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Messages waiting for the next batch."""
        return len(self._waiting)

    async def submit(self, event: CloudEvent[Any], routing_key: str) -> bool:
        """Wait until ``event``'s batch committed: True if handled, False if a duplicate.

        Raises ``BatchFailed`` when its batch rolled back.
        """
        item = Pending(event, routing_key)
        self._waiting.append(item)
        if self._running is None:
            self._running = asyncio.create_task(self._run())
        return await item.done

    async def _run(self) -> None:
        try:
            while self._waiting:
                if len(self._waiting) < self.max_size:
                    # Deliveries of one prefetch window arrive a few at a time: a moment
                    # lets the rest join this batch rather than wait for the next.
                    await asyncio.sleep(self._linger_s)
                batch = self._waiting[: self.max_size]
                del self._waiting[: self.max_size]
                await self._handle(batch)
        finally:
            self._running = None
            # Cancelled (the service stops): nothing of these committed, they are redelivered.
            for item in self._waiting:
                if not item.done.done():
                    item.done.set_exception(BatchFailed("consumer stopped"))
            self._waiting.clear()

    async def _handle(self, batch: list[Pending]) -> None:
        try:
            results = await self._flush(batch)
        except Exception as exc:
            log.warning("batch_failed", size=len(batch), error=type(exc).__name__)
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(BatchFailed(type(exc).__name__))
            return
        except BaseException:
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(BatchFailed("cancelled"))
            raise
        for item, handled in zip(batch, results, strict=True):
            if not item.done.done():
                item.done.set_result(handled)
