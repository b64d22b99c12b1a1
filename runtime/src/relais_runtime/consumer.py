"""Event consumers: parse, de-duplicate, handle in one transaction, retry, or park.

Each work queue has one ``EventConsumer``; handlers register per message type::

    consumer = runtime.consumer("parcours.referrals")

    @consumer.handles(ReferralSubmitted)
    async def on_referral_submitted(event: CloudEvent[ReferralSubmitted], tx: Tx) -> None:
        ...  # tx.conn is inside the transaction; tx.emit(...) writes to the outbox

What happens to a message:
- not JSON, not a CloudEvent, unknown type, or ``data`` not matching the schema: parked at
  once with the reason (retrying can't help);
- a ``PermanentError`` from the handler (bad input the sender must fix): parked at once;
- any other exception: retried in-process ``immediate_attempts`` times, then sent through
  the delay steps (``retry_delays_ms``), then parked with the last error;
- already handled (same message id in the inbox): acked and skipped.
The message is acked only after its transaction committed (or after its copy was
confirmed by the broker in the delay or parking queue); the acks of messages settled
together leave as one ``multiple`` ack (``acks.py``, docs/decisions/0025).

A consumer registered with ``handles_batches`` handles the messages gathered within its
prefetch window in one transaction (``batching.py``, docs/decisions/0021); a batch that
fails is handled again one message at a time, with the rules above.

A queue whose senders must hear that their message was refused (commands from outside)
registers ``on_parked``: it runs in its own transaction, once per message id, before the
message is parked, and may write events to the outbox (``ParkingNotice`` holds codes and
field names only, never values).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_contracts.topology import PARKING_EXCHANGE, RETRY_EXCHANGE, delay_name
from relais_runtime import inbox, outbox, tracing
from relais_runtime.acks import Acks
from relais_runtime.batching import Batcher, BatchFailed, Pending
from relais_runtime.db import Conn
from relais_runtime.logging import mask_text
from relais_runtime.uow import UnitOfWork

log = structlog.get_logger("relais.consumer")

M = TypeVar("M", bound=Message)

RETRY_HEADER = "x-relais-retry"
#: Where a message was first published: a retry or a replay reaches its queue through
#: ``relais.retry`` keyed by the queue name, so these headers carry the original route.
ORIGINAL_EXCHANGE_HEADER = "x-relais-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-relais-original-routing-key"
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
#: Any envelope, ``data`` left as a dict. Parametrised once: subscripting the generic
#: model costs about as much as validating the message's data (measured, ~9 µs).
_ANY_ENVELOPE = CloudEvent[dict[str, Any]]
_PATH_WORD = re.compile(r"[^A-Za-z0-9_-]")


class PermanentError(Exception):
    """The message can never succeed as it is: park it now, don't retry.

    ``fields`` names what is wrong (``child.birth_date:date_in_future``), never a value.
    """

    def __init__(self, code: str, detail: str = "", *, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.fields = fields or []


@dataclass(frozen=True)
class ParkingNotice:
    """What an ``on_parked`` hook learns of a message about to be parked."""

    message_id: str
    routing_key: str
    reason: str
    fields: list[str]
    #: The envelope when it could be read (``data`` left as a dict), else ``None``.
    envelope: CloudEvent[dict[str, Any]] | None


class Tx(UnitOfWork):
    """What a handler gets besides the event: the unit of work its message runs in.

    The transaction also holds the inbox claim; events emitted are caused by the incoming
    message (correlation carried over) unless ``caused_by`` names another (uow.py).
    """

    def __init__(
        self,
        conn: Conn,
        incoming: CloudEvent[Any],
        source: str,
        routing_key: str = "",
        outbox_rows: list[CloudEvent[Any]] | None = None,
    ) -> None:
        # ``outbox_rows``: where the consumer collects the events of its transaction, to
        # write them all at once before (or with) the ``COMMIT``; ``None``: written at once.
        super().__init__(conn, source=source, cause=incoming, held=outbox_rows)
        self.incoming = incoming
        #: The routing key the message arrived with: for commands on ``relais.intake`` it
        #: names the sender, which the broker's topic permissions vouch for.
        self.routing_key = routing_key


Handler = Callable[[CloudEvent[Any], Tx], Awaitable[None]]
#: Handles new messages together: one ``Tx`` each, all on the same connection and
#: transaction (``tx.incoming`` is the message, ``data`` left as a dict).
BatchHandler = Callable[[Sequence[Tx]], Awaitable[None]]
ParkedHook = Callable[[ParkingNotice, Conn], Awaitable[None]]


@dataclass(frozen=True)
class _Route(Generic[M]):
    model: type[M] | None
    handler: Handler


@dataclass(frozen=True)
class Outcome:
    """Why a message left the queue, for logs and metrics."""

    status: str  # ok | duplicate | retried | parked
    reason: str = ""


class EventConsumer:
    def __init__(
        self,
        *,
        broker: RabbitBroker,
        pool_getter: Callable[[], asyncpg.Pool],
        queue: str,
        source: str,
        prefetch: int,
        immediate_attempts: int,
        retry_delays_ms: list[int],
        on_outcome: Callable[[str, Outcome, float], None] | None = None,
    ) -> None:
        self.queue = queue
        self.prefetch = prefetch
        self._broker = broker
        self._pool_getter = pool_getter
        self._source = source
        self._immediate_attempts = immediate_attempts
        self._delays = retry_delays_ms
        self._routes: dict[str, _Route[Any]] = {}
        self._fallback: Handler | None = None
        self._on_parked: ParkedHook | None = None
        #: Set by ``handles_batches``.
        self.batcher: Batcher | None = None
        self._batch_handler: BatchHandler | None = None
        self._on_outcome = on_outcome
        #: Awaited before each message is taken in hand (before its transaction): intake
        #: queues wait there while the service is behind (ServiceRuntime.wait_for_intake).
        self.admit: Callable[[], Awaitable[None]] | None = None
        #: Seconds ``stop`` waits for the messages in hand to be handled.
        self.graceful_timeout_s = 15.0
        # Consumed through aio-pika directly, on the broker's connection (ADR 0024): the
        # channel, the queue handle and the consumer tag while consuming.
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        #: Messages being handled (their tasks), for a graceful stop.
        self._in_hand: set[asyncio.Task[Any]] = set()
        #: Acks sent together for the messages settled together (acks.py, ADR 0025).
        self._acks = Acks()

    async def start(self, connection: AbstractConnection) -> None:
        """Consume the queue on ``connection`` (the broker's robust connection)."""
        self._connection = connection
        await self._subscribe()

    async def _subscribe(self) -> None:
        assert self._connection is not None
        # A robust channel and queue: after a reconnect aio-pika restores the prefetch
        # (basic.qos) and the consumer by itself, as it did under FastStream.
        channel = await self._connection.channel(on_return_raises=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        # The queue is declared (with its arguments and bindings) by topology.py: a passive
        # declare here, so a mismatch fails loudly instead of redeclaring. Passive, not
        # ``get_queue(ensure=False)``: only a declared queue is registered with the robust
        # channel, which then restores its consumer after a reconnect (without it the
        # watchdog re-subscribed after three checks: 25 s of no consuming after a node
        # loss in the cluster test, 3.7 s with it).
        queue = await channel.declare_queue(self.queue, passive=True)
        self._tag = await queue.consume(self._on_delivery)
        self._channel, self._queue = channel, queue

    async def _unsubscribe(self) -> None:
        channel, queue, tag = self._channel, self._queue, self._tag
        self._channel = self._queue = self._tag = None
        if channel is None or channel.is_closed:
            return
        with contextlib.suppress(Exception):  # already cancelled, or the channel is gone
            if queue is not None and tag is not None:
                await queue.cancel(tag)
        with contextlib.suppress(Exception):
            await channel.close()

    async def stop(self) -> None:
        """Stop taking messages, then wait (up to ``graceful_timeout_s``) for those in hand.

        The consumer is cancelled first, so nothing new arrives; messages in hand finish
        and are acked on the open channel. Whatever is still unacked when the channel
        closes goes back to the queue.
        """
        channel, queue, tag = self._channel, self._queue, self._tag
        if channel is not None and not channel.is_closed and queue is not None and tag:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        if self._in_hand:
            await asyncio.wait(set(self._in_hand), timeout=self.graceful_timeout_s)
        with contextlib.suppress(Exception):  # what is not acked now is delivered again
            await asyncio.wait_for(self._acks.drain(), self.graceful_timeout_s)
        await self._unsubscribe()
        self._connection = None

    async def check_consuming(self) -> None:
        """Raise unless this process has a live consumer on its queue.

        aio-pika's robust channel re-consumes after a reconnect (FastStream issue #2758
        reported consumers lost after a broker node replacement, on the same mechanism);
        this check makes such a loss visible on /ready, and ``resubscribe`` repairs it.
        """
        if self._queue is None or self._tag is None:
            raise ConnectionError(f"{self.queue}: not consuming")
        # (The concrete aiormq channel: its abstract type does not declare ``consumers``.)
        channel = cast(aiormq.Channel, await self._queue.channel.get_underlay_channel())
        if channel.is_closed or self._tag not in channel.consumers:
            raise ConnectionError(f"{self.queue}: consumer lost")

    async def resubscribe(self) -> None:
        """Consume again on a new channel (the messages unacked on the old one go back)."""
        await self._unsubscribe()
        await self._subscribe()
        log.warning("consumer_restarted", queue=self.queue)

    def handles(self, model: type[M]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if self.batcher is not None:
                raise ValueError(f"{self.queue}: handled in batches, no per-type handler")
            self._routes[model.ce_type()] = _Route(model, handler)
            return handler

        return register

    def handles_any(self, handler: Handler) -> Handler:
        """Handle every type not registered explicitly (``data`` left as a dict)."""
        self._fallback = handler
        return handler

    def handles_batches(
        self, handler: BatchHandler, *, max_size: int | None = None, linger_s: float = 0.005
    ) -> BatchHandler:
        """Handle every type in batches of up to ``max_size`` messages per transaction.

        ``max_size`` defaults to half the prefetch, so the next batch gathers while one is
        handled. The handler must give each message the effect it would have alone (a
        batch that fails is handled again one message at a time, through ``[tx]``).
        """
        if self._routes:
            raise ValueError(f"{self.queue}: batches take every type, no per-type handler")
        size = max_size or max(1, self.prefetch // 2)

        async def one(event: CloudEvent[Any], tx: Tx) -> None:
            await handler([tx])

        self._fallback = one
        self._batch_handler = handler
        self.batcher = Batcher(self._handle_batch, max_size=size, linger_s=linger_s)
        return handler

    def on_parked(self, hook: ParkedHook) -> ParkedHook:
        """Run ``hook`` (once per message id, in its own transaction) before parking."""
        self._on_parked = hook
        return hook

    async def _on_delivery(self, message: AbstractIncomingMessage) -> None:
        """aio-pika's callback, in a task of its own for each message delivered."""
        task = asyncio.current_task()
        if task is not None:
            self._in_hand.add(task)
        try:
            await self._on_message(message)
        except Exception as exc:
            # Left unacked: it goes back to the queue when the channel closes (a publish
            # of its copy failed, the broker went away...). Never the body, only the error.
            log.error("message_not_settled", queue=self.queue, error=_describe(exc))
        finally:
            if task is not None:
                self._in_hand.discard(task)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self.admit is not None:
            await self.admit()
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(
            queue=self.queue, message_id=message.message_id, correlationid=message.correlation_id
        )
        try:
            outcome = await self.process(message)
        finally:
            structlog.contextvars.clear_contextvars()
        if self._on_outcome:
            self._on_outcome(self.queue, outcome, time.perf_counter() - started)

    async def process(self, message: AbstractIncomingMessage) -> Outcome:
        try:
            event, route = self._parse(message.body)
        except PermanentError as exc:
            return await self._park(message, exc.code, str(exc), exc.fields)
        structlog.contextvars.bind_contextvars(
            correlationid=event.correlationid, message_id=str(event.id), type=event.type
        )
        with tracing.consuming(
            self.queue,
            event_id=str(event.id),
            event_type=event.type,
            tenant=event.tenant,
            correlationid=event.correlationid,
            traceparent=event.traceparent,
            tracestate=event.tracestate,
        ) as span:
            outcome = None
            if self.batcher is not None:
                outcome = await self._in_batch(message, event)
            if outcome is None:
                outcome = await self._attempt(message, event, route)
            span.set_attribute("relais.outcome", outcome.status)
            return outcome

    async def _attempt(
        self, message: AbstractIncomingMessage, event: CloudEvent[Any], route: _Route[Any]
    ) -> Outcome:
        """Handle ``event`` (retried in-process), then delay or park it if it keeps failing."""
        last_error = ""
        outage = False
        for attempt in range(1, self._immediate_attempts + 1):
            try:
                handled = await self._handle(event, route, _origin(message)[1])
            except PermanentError as exc:
                return await self._park(message, exc.code, mask_text(str(exc)), exc.fields)
            except Exception as exc:
                last_error = _describe(exc)
                outage = _is_outage(exc)
                log.warning("handler_failed", attempt=attempt, error=last_error)
                if attempt < self._immediate_attempts:
                    await asyncio.sleep(0.05 * 2**attempt)
                continue
            await self._acks.settle(message)
            return Outcome("ok" if handled else "duplicate")
        return await self._retry_later(message, last_error, outage=outage)

    async def _in_batch(
        self, message: AbstractIncomingMessage, event: CloudEvent[Any]
    ) -> Outcome | None:
        """Handle ``event`` in the next batch; None if that batch failed (then alone)."""
        assert self.batcher is not None
        try:
            handled = await self.batcher.submit(event, _origin(message)[1])
        except BatchFailed:
            return None
        await self._acks.settle(message)
        return Outcome("ok" if handled else "duplicate")

    async def _handle_batch(self, batch: Sequence[Pending]) -> list[bool]:
        async with self._pool_getter().acquire() as conn, conn.transaction():
            fresh = await inbox.claim_many(conn, self.queue, [str(p.event.id) for p in batch])
            results: list[bool] = []
            txs: list[Tx] = []
            emitted: list[CloudEvent[Any]] = []  # the batch's events, in the order emitted
            for pending in batch:
                message_id = str(pending.event.id)
                new = message_id in fresh
                fresh.discard(message_id)  # the same id twice in one batch: once
                results.append(new)
                if new:
                    txs.append(Tx(conn, pending.event, self._source, pending.routing_key, emitted))
            if txs:
                assert self._batch_handler is not None
                await self._batch_handler(txs)
            await outbox.add(conn, *emitted)
            return results

    def _parse(self, body: bytes) -> tuple[CloudEvent[Any], _Route[Any]]:
        try:
            envelope = _ANY_ENVELOPE.model_validate_json(body)
        except ValidationError as exc:
            kind = "invalid_json" if _is_json_error(exc) else "invalid_envelope"
            raise PermanentError(
                kind, _validation_summary(exc), fields=_field_codes(exc, "")
            ) from exc
        route = self._routes.get(envelope.type)
        if route is None:
            if self._fallback is None:
                raise PermanentError("unknown_type", envelope.type)
            return envelope, _Route(None, self._fallback)
        assert route.model is not None  # registered routes always name their model
        try:
            data = route.model.model_validate(envelope.data)
        except ValidationError as exc:
            raise schema_violation(exc) from exc
        return envelope.model_copy(update={"data": data}), route

    async def _handle(self, event: CloudEvent[Any], route: _Route[Any], routing_key: str) -> bool:
        async with (
            self._pool_getter().acquire() as conn,
            inbox.claimed(conn, self.queue, str(event.id)) as claim,
        ):
            if not claim.new:
                return False
            # Its events go to the outbox with the COMMIT (inbox.claimed).
            tx = Tx(conn, event, self._source, routing_key, claim.outbox)
            await route.handler(event, tx)
            return True

    async def _retry_later(
        self, message: AbstractIncomingMessage, error: str, *, outage: bool
    ) -> Outcome:
        step = _retry_step(message.headers)
        if outage:
            # The database is unreachable: not the message's fault. Keep it cycling through
            # the longest delay instead of parking everything that arrives during an outage.
            step = min(step, len(self._delays) - 1)
        elif step >= len(self._delays):
            return await self._park(message, "retries_exhausted", error)
        exchange, routing_key = _origin(message)
        headers = {
            **_plain_headers(message.headers),
            RETRY_HEADER: step + 1,
            "x-relais-last-error": error[:1000],
            ORIGINAL_EXCHANGE_HEADER: exchange,
            ORIGINAL_ROUTING_KEY_HEADER: routing_key,
        }
        await self._copy(message, delay_name(self._delays[step]), headers)
        await self._acks.settle(message)
        log.info("message_delayed", step=step + 1, delay_ms=self._delays[step])
        return Outcome("retried", error)

    async def _park(
        self,
        message: AbstractIncomingMessage,
        reason: str,
        error: str,
        fields: list[str] | None = None,
    ) -> Outcome:
        if self._on_parked is not None:
            try:
                await self._tell_parked(message, reason, fields or [])
            except Exception as exc:
                if _is_outage(exc):
                    # The sender must hear of it: keep the message until the database is back.
                    return await self._retry_later(message, _describe(exc), outage=True)
                log.error("on_parked_failed", reason=reason, error=_describe(exc))
        headers = {
            **_plain_headers(message.headers),
            "x-relais-parked-reason": reason,
            "x-relais-error": error[:2000],
            "x-relais-parked-at": datetime.now(UTC).isoformat(),
            "x-relais-queue": self.queue,
        }
        headers[ORIGINAL_EXCHANGE_HEADER], headers[ORIGINAL_ROUTING_KEY_HEADER] = _origin(message)
        await self._copy(message, PARKING_EXCHANGE, headers)
        await self._acks.settle(message)
        log.error("message_parked", reason=reason, error=error[:500])
        return Outcome("parked", reason)

    async def _tell_parked(
        self, message: AbstractIncomingMessage, reason: str, fields: list[str]
    ) -> None:
        assert self._on_parked is not None
        raw = message
        try:
            envelope: CloudEvent[dict[str, Any]] | None = _ANY_ENVELOPE.model_validate_json(
                message.body
            )
        except ValidationError:
            envelope = None
        # A message without a usable id is known by its body's digest: parked twice (a
        # replay), it is still told once.
        message_id = raw.message_id or ""
        if not _MESSAGE_ID.fullmatch(message_id):
            message_id = "sha256-" + hashlib.sha256(message.body).hexdigest()[:40]
        parked = ParkingNotice(
            message_id=message_id,
            routing_key=_origin(message)[1],
            reason=reason,
            fields=fields,
            envelope=envelope,
        )
        async with self._pool_getter().acquire() as conn, conn.transaction():
            if await inbox.claim(conn, f"{self.queue}#parked", message_id):
                await self._on_parked(parked, conn)

    async def _copy(
        self, message: AbstractIncomingMessage, exchange: str, headers: dict[str, Any]
    ) -> None:
        """Publish a confirmed copy routed to this queue only (by the queue name as key)."""
        raw = message
        await self._broker.publish(
            message.body,
            exchange=exchange,
            routing_key=self.queue,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            content_type=raw.content_type,
            headers=headers,
            persist=True,
            mandatory=True,
            timeout=10,
        )


_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionRefusedError: the server is down
    asyncpg.InterfaceError,  # connection closed under us
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.ConnectionFailureError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, _OUTAGE_ERRORS)


def _origin(message: AbstractIncomingMessage) -> tuple[str, str]:
    """The exchange and routing key ``message`` was first published with.

    A copy back through ``relais.retry`` (a delayed retry, a replay) carries them in our
    headers. Only services and the operator may write to that exchange, so the headers
    count from there only: on any other exchange the broker's own route is the truth, and
    a header a sender wrote (naming another sender's key on ``relais.intake``) is ignored,
    then overwritten on the copy.
    """
    raw = message
    if raw.exchange == RETRY_EXCHANGE:
        headers = raw.headers or {}
        key = _header_text(headers.get(ORIGINAL_ROUTING_KEY_HEADER))
        if key:
            return _header_text(headers.get(ORIGINAL_EXCHANGE_HEADER)), key
    return raw.exchange or "", raw.routing_key or ""


def _header_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else ""


def _retry_step(headers: dict[str, Any] | None) -> int:
    try:
        return int((headers or {}).get(RETRY_HEADER, 0))
    except (TypeError, ValueError):
        return 0


def _plain_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Headers to carry over; the broker's own ``x-death`` bookkeeping is left behind."""
    return {k: v for k, v in (headers or {}).items() if k not in {"x-death", "x-delivery-count"}}


def schema_violation(exc: ValidationError) -> PermanentError:
    """What parks at once a message whose ``data`` its contract refuses, naming the fields
    and never their values (batch handlers validate ``data`` themselves)."""
    return PermanentError(
        "schema_violation", _validation_summary(exc), fields=_field_codes(exc, "data.")
    )


def typed(tx: Tx, models: Mapping[str, type[Message]]) -> Message:
    """A batch handler's message with its ``data`` as the model of its type in ``models``
    (set on ``tx.incoming`` too, as a handler per type gets it); a type not in ``models``
    or data its model refuses raises what parks the message at once, as ``handles`` would."""
    model = models.get(tx.incoming.type)
    if model is None:
        raise PermanentError("unknown_type", tx.incoming.type)
    try:
        data = model.model_validate(tx.incoming.data)
    except ValidationError as exc:
        raise schema_violation(exc) from None
    tx.incoming = tx.cause = tx.incoming.model_copy(update={"data": data})
    return data


def _is_json_error(exc: ValidationError) -> bool:
    return any(err["type"] == "json_invalid" for err in exc.errors())


def _field_codes(exc: ValidationError, prefix: str) -> list[str]:
    """``path:error_type`` for each error, never the input values."""
    codes = [
        # Path words reduced to [A-Za-z0-9_-] (pydantic names some by their validator).
        prefix + ".".join(_PATH_WORD.sub("", str(p)) for p in err["loc"]) + ":" + err["type"]
        for err in exc.errors(include_input=False, include_url=False)
        if err["loc"]  # a body that is not JSON at all has no field to name
    ]
    return codes[:50]


def _validation_summary(exc: ValidationError) -> str:
    # Never the input values: they may hold personal data.
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return "; ".join(parts[:20])


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame else ""
    return mask_text(f"{type(exc).__name__}: {exc}{where}")[:1000]
