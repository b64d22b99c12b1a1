"""Transactional outbox: events are written with the state change, then relayed.

``add`` inserts the event in the caller's transaction; once the transaction is over and
its connection back in the pool, the relays of the process wake (``db.outbox_written``;
not a NOTIFY: ADR 0028), and rows another process wrote are found by polling within
``poll_interval_s``. ``OutboxRelay`` claims due rows with
``FOR UPDATE SKIP LOCKED`` (several replicas share the work), publishes them with
publisher confirms and ``mandatory``, and deletes them in the same transaction. A crash
between publish and commit re-publishes the same rows with the same message id:
consumers' inboxes make that harmless. An unroutable or unconfirmed publish keeps the
row, with its error, for a later attempt with backoff.

Failures are logged as an episode, not per row (a broker outage with a backlog would
write one line per row per attempt): one warning when publishing starts failing, a
summary every ``outage_summary_interval_s`` while rows still wait, one line when every
row that failed has gone out. The rows keep their own ``last_error``. A database that
does not answer is logged the same way (once, a summary now and then, once back).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import aio_pika
import aiormq
import asyncpg
import structlog

from relais_contracts.envelope import CloudEvent
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_runtime import tracing
from relais_runtime.background import cancel_and_wait
from relais_runtime.broker import FailoverConnection, node_urls
from relais_runtime.db import Conn, on_outbox_written, outbox_written

# Short enough that events flow again soon after a broker outage ends.
MAX_BACKOFF_S = 30

log = structlog.get_logger("relais.outbox")

PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)

#: Seconds since the oldest row the relay has not tried yet was written (0 if none).
LAG_QUERY = (
    "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 "
    "FROM relais_outbox WHERE attempts = 0"
)


async def add(conn: Conn, *events: CloudEvent[Any], exchange: str = EVENTS_EXCHANGE) -> None:
    """Write ``events`` to the outbox inside the caller's transaction, in this order.

    The rows go in one statement, whatever the number of events: one round trip to the
    database, in every transaction that emits; the relays of this process wake when the
    connection goes back to its pool.
    An event without a trace context gets the current one (the request's or the
    message's span), in its envelope and in the row (``tracing``).
    """
    if not events:
        return
    added, args = rows(events, exchange, first=1)
    await conn.execute(f"WITH {added} {END_ADDED}", *args)
    outbox_written(conn)


#: The end of a statement carrying :func:`rows` (its rows are written whatever follows).
END_ADDED = "SELECT count(*) FROM added"


def rows(
    events: Sequence[CloudEvent[Any]], exchange: str = EVENTS_EXCHANGE, *, first: int
) -> tuple[str, list[Any]]:
    """What :func:`add` writes, as a common table expression named ``added`` and its
    arguments (numbered from ``$first``), for a statement of the caller's own that writes
    its rows and its events in one round trip (``WITH ..., {added} {END_ADDED}``); the
    caller then calls ``db.outbox_written(conn)``, or the relay finds the rows only at its
    next poll. ``events`` must not be empty."""
    if not events:
        raise ValueError("no events to write")
    events = traced(*events)
    p = [f"${first + i}" for i in range(7)]
    sql = (
        "added AS ("  # noqa: S608 (placeholders only)
        "INSERT INTO relais_outbox "
        "(id, exchange, routing_key, body, correlation_id, traceparent, tracestate) "
        f"SELECT id, {p[1]}, routing_key, body, correlation_id, traceparent, tracestate "
        f"FROM unnest({p[0]}::uuid[], {p[2]}::text[], {p[3]}::bytea[], {p[4]}::text[], "
        f"{p[5]}::text[], {p[6]}::text[]) "
        "WITH ORDINALITY AS e(id, routing_key, body, correlation_id, traceparent, tracestate, n) "
        # The order given is the order published (``position``).
        "ORDER BY n RETURNING id)"
    )
    args = [
        [e.id for e in events],
        exchange,
        [e.routing_key() for e in events],
        [e.model_dump_json().encode() for e in events],
        [e.correlationid for e in events],
        [e.traceparent for e in events],
        [e.tracestate for e in events],
    ]
    return sql, args


def traced(*events: CloudEvent[Any]) -> tuple[CloudEvent[Any], ...]:
    """``events``, those without a trace context given the current one (``add``)."""
    traceparent, tracestate = tracing.current_context()
    if traceparent is None:
        return events
    return tuple(
        e
        if e.traceparent is not None
        else e.model_copy(update={"traceparent": traceparent, "tracestate": tracestate})
        for e in events
    )


def insert_statement(events: Sequence[CloudEvent[Any]], exchange: str = EVENTS_EXCHANGE) -> str:
    """``add``'s insert as one statement with its values written in it, for a simple query
    that also carries the ``COMMIT`` (``inbox.claimed``): one round trip less per consumed
    message that emits. Call with ``traced`` events, and ``db.outbox_written(conn)``.

    Every value but the id (a ``UUID``, printed by Python) goes in hexadecimal, decoded by
    the server: nothing from an event (a sender's correlation id, a tenant) can end a
    literal, whatever the server's quoting settings.
    """
    values = ", ".join(
        f"('{uuid.UUID(str(e.id))}'::uuid, {_text(exchange)}, {_text(e.routing_key())}, "
        f"decode('{e.model_dump_json().encode().hex()}', 'hex'), {_text(e.correlationid)}, "
        f"{_text(e.traceparent)}, {_text(e.tracestate)})"
        for e in events
    )
    # Values in hexadecimal, the id a UUID, the rest constants: nothing to inject.
    return (
        "WITH added AS (INSERT INTO relais_outbox "  # noqa: S608
        "(id, exchange, routing_key, body, correlation_id, traceparent, tracestate) "
        f"VALUES {values} RETURNING id) {END_ADDED}"
    )


def _text(value: str | None) -> str:
    if value is None:
        return "NULL"
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8')"


@dataclass(frozen=True)
class OutgoingMessage:
    id: uuid.UUID
    exchange: str
    routing_key: str
    body: bytes
    correlation_id: str
    attempts: int
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass
class _FailingEpisode:
    """Publishing failing, from the first failure until no failed row waits any more."""

    started: float  # monotonic
    next_summary: float
    first_error: str
    last_error: str = ""
    failed_attempts: int = 0
    #: Failed attempts since the previous line, for the summary.
    failed_since_summary: int = 0
    #: Rows that had failed at least once and were then published (by this relay).
    rows_waited: int = 0
    #: Whether the rows in backoff were made due again after a first publish succeeded.
    released: bool = False


#: Publishes one message and returns when the broker confirmed it; raises otherwise.
PublishFn = Callable[[OutgoingMessage], Awaitable[None]]


class AmqpPublisher:
    """Publishes outbox rows through aio-pika's channel, on a connection of the relay's own.

    The same message as through FastStream (persistent, ``mandatory``, publisher
    confirms, an unroutable publish raising, message id = row id, the correlation id,
    the CloudEvents content type, a timestamp), without FastStream's publish layers:
    0.19 ms of CPU per confirmed publish against 0.34 ms through ``broker.publish``.
    Its own connection also keeps the relay's publishes and confirms out of the
    consumers' channel, so a saturated consumer side does not hold the outbox back. A
    robust connection (over every node of a cluster URL) reconnects by itself; while it
    is down, publishes fail and the rows wait in the outbox with backoff.

    A publish goes straight to the channel underneath (aiormq) and does not wait for its
    frames to be written before the next one may go (``wait=False``): a batch's publishes
    are pipelined on the socket instead of taking the channel's lock one write-and-drain
    at a time, and each still returns only once the broker confirmed it (or raises: nack,
    unroutable, channel closed, timeout). They leave in the order they are called. While
    tracing is on, publishes go through aio-pika's exchange instead, whose instrumentation
    adds its publish span and carries the context in the AMQP headers (ADR 0019).
    """

    def __init__(self, amqp_url: str, *, timeout_s: float = 10.0) -> None:
        self._amqp_url = amqp_url
        self._timeout_s = timeout_s
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}

    async def start(self) -> None:
        urls = node_urls(self._amqp_url)
        kwargs: dict[str, Any] = {"reconnect_interval": 2.0}
        if len(urls) > 1:
            kwargs["connection_class"] = lambda _url, **kw: FailoverConnection(urls, **kw)
        self._connection = await aio_pika.connect_robust(urls[0], **kwargs)
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )

    async def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._connection = self._channel = None
        self._exchanges.clear()

    async def publish(self, msg: OutgoingMessage) -> None:
        if self._channel is None:
            raise RuntimeError("the outbox publisher is not started")
        if tracing.enabled():
            await self._publish_instrumented(self._channel, msg)
            return
        # The channel of the moment (a robust channel replaces it after a reconnect). A
        # closed one fails at once, as aio-pika's publish does, rather than waiting out
        # the timeout on the dead connection's write queue.
        if self._channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("the outbox channel is closed")
        # (The concrete aiormq channel: its abstract type does not declare ``wait``.)
        channel = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        result = await channel.basic_publish(
            msg.body,
            exchange=msg.exchange,
            routing_key=msg.routing_key,
            properties=aiormq.spec.Basic.Properties(
                message_id=str(msg.id),
                correlation_id=msg.correlation_id,
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                delivery_mode=PERSISTENT,
                timestamp=datetime.now(UTC),
            ),
            mandatory=True,
            timeout=self._timeout_s,
            wait=False,
        )
        # A nack or a return raises in aiormq (on_return_raises); anything but an ack
        # here would mean the broker did not take the message.
        if not isinstance(result, aiormq.spec.Basic.Ack):
            raise aiormq.exceptions.DeliveryError(None, result)  # type: ignore[arg-type]

    async def _publish_instrumented(
        self, channel: aio_pika.abc.AbstractChannel, msg: OutgoingMessage
    ) -> None:
        exchange = self._exchanges.get(msg.exchange)
        if exchange is None:
            # Declared with the topology: only a handle here, no round trip.
            exchange = await channel.get_exchange(msg.exchange, ensure=False)
            self._exchanges[msg.exchange] = exchange
        await exchange.publish(
            aio_pika.Message(
                msg.body,
                message_id=str(msg.id),
                correlation_id=msg.correlation_id,
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                timestamp=datetime.now(UTC),
            ),
            routing_key=msg.routing_key,
            mandatory=True,
            timeout=self._timeout_s,
        )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: PublishFn,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        on_published: Callable[[int], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
        outage_summary_interval_s: float = 60.0,
    ) -> None:
        self._pool = pool
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._on_published = on_published
        self._on_failed = on_failed
        self._summary_interval_s = outage_summary_interval_s
        self._episode: _FailingEpisode | None = None
        #: While the database does not answer: since when, how many rounds failed, and
        #: when the next summary line is due.
        self._db_down: tuple[float, int, float] | None = None
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_waking: Callable[[], None] | None = None

    async def start(self) -> None:
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name="outbox-relay")
        # Woken by this process's transactions that wrote rows; the rest (another
        # replica's, a tool's, or rows written while the database was away) at the poll.
        self._stop_waking = on_outbox_written(self._wake.set)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop after the batch in flight (up to ``grace_s``), then cancel what is left.

        Cancelling a batch mid-publish rolls back the deletion of rows the broker already
        confirmed, so they would go out again at the next start: harmless (consumers'
        inboxes), but avoidable by letting the batch finish.
        """
        self._stopping = True
        self._wake.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(runner), grace_s)
            await cancel_and_wait(runner)
        if self._stop_waking is not None:
            self._stop_waking()
            self._stop_waking = None

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Publish one batch of due rows; return how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT ctid, id, exchange, routing_key, body, correlation_id, attempts, "
                "traceparent, tracestate FROM relais_outbox WHERE next_attempt_at <= now() "
                "ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                await self._follow_episode(conn)
                return 0
            # Each row's place in the table: locked by this transaction, it cannot move
            # before the COMMIT, and deleting by it is a direct read of those pages, where
            # ``id = ANY`` was planned as a scan of the whole (dead-row-laden) table.
            where = {r["id"]: r["ctid"] for r in rows}
            messages = [
                OutgoingMessage(**{k: v for k, v in r.items() if k != "ctid"}) for r in rows
            ]
            results = await asyncio.gather(
                *(self._publish_in_trace(m) for m in messages), return_exceptions=True
            )
            sent = [m for m, r in zip(messages, results, strict=True) if r is None]
            done = [m.id for m in sent]
            failed = [
                (m, r)
                for m, r in zip(messages, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if done:
                await conn.execute(
                    "DELETE FROM relais_outbox WHERE ctid = ANY($1::tid[])",
                    [where[i] for i in done],
                )
            if failed:
                await self._record_failures(conn, failed)
            await self._follow_episode(conn, sent, failed)
        if done and self._on_published:
            self._on_published(len(done))
        if failed and self._on_failed:
            self._on_failed(len(failed))
        return len(done)

    async def _publish_in_trace(self, message: OutgoingMessage) -> None:
        with tracing.relaying(
            traceparent=message.traceparent,
            tracestate=message.tracestate,
            exchange=message.exchange,
            routing_key=message.routing_key,
            message_id=str(message.id),
        ):
            await self._publish(message)

    async def _record_failures(
        self, conn: Conn, failed: Sequence[tuple[OutgoingMessage, BaseException]]
    ) -> None:
        await conn.executemany(
            "UPDATE relais_outbox SET attempts = attempts + 1, last_error = $2, "
            "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
            [
                (msg.id, _describe(exc), float(min(MAX_BACKOFF_S, 2 ** min(msg.attempts, 10))))
                for msg, exc in failed
            ],
        )

    async def _follow_episode(
        self,
        conn: Conn,
        sent: Sequence[OutgoingMessage] = (),
        failed: Sequence[tuple[OutgoingMessage, BaseException]] = (),
    ) -> None:
        """Log a failing episode (its start, a periodic summary, its end), in the round's
        transaction; release the rows in backoff once publishing works again."""
        now = time.monotonic()
        episode = self._episode
        if episode is not None:
            episode.rows_waited += sum(1 for m in sent if m.attempts)
            if sent and not episode.released:
                # The broker is back: the rows waiting out their backoff (up to
                # MAX_BACKOFF_S) go now. Once per episode, so a row that can never go out
                # (unroutable) keeps its own backoff.
                episode.released = True
                await conn.execute(
                    "UPDATE relais_outbox SET next_attempt_at = now() "
                    "WHERE attempts > 0 AND next_attempt_at > now()"
                )
                self._wake.set()
        if failed:
            error = _describe(failed[0][1])
            if episode is None:
                episode = self._episode = _FailingEpisode(
                    started=now, next_summary=now + self._summary_interval_s, first_error=error
                )
                log.warning(
                    "outbox_publish_failing",
                    error=error,
                    failed=len(failed),
                    published=len(sent),
                    routing_key=failed[0][0].routing_key,
                )
            episode.last_error = error
            episode.failed_attempts += len(failed)
            episode.failed_since_summary += len(failed)
        if episode is None:
            return
        summary_due = now >= episode.next_summary
        # The end is read from the table, in this round's transaction (a row may have gone
        # out through another replica), after a round without failures.
        if failed and not summary_due:
            return
        counts = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE attempts > 0) AS waiting, count(*) AS backlog "
            "FROM relais_outbox"
        )
        assert counts is not None  # an aggregate always returns a row
        waiting, backlog = counts["waiting"], counts["backlog"]
        duration_s = round(now - episode.started, 1)
        if waiting == 0 and not failed:
            log.info(
                "outbox_publish_recovered",
                duration_s=duration_s,
                failed_attempts=episode.failed_attempts,
                rows_waited=episode.rows_waited,
                backlog=backlog,
            )
            self._episode = None
        elif summary_due:
            log.warning(
                "outbox_publish_still_failing",
                duration_s=duration_s,
                failed_attempts=episode.failed_attempts,
                failed_since_last=episode.failed_since_summary,
                rows_waiting=waiting,
                backlog=backlog,
                error=episode.last_error,
            )
            episode.failed_since_summary = 0
            episode.next_summary = now + self._summary_interval_s

    async def _run(self) -> None:
        while not self._stopping:
            # Clear the wake-up *before* reading the outbox: a row committed while a batch
            # is being published sets it again, so the relay goes round at once instead of
            # leaving that row for the next poll (up to ``poll_interval_s`` later).
            self._wake.clear()
            try:
                published = await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Database unreachable: the rows are safe where they are; try again later.
                self._database_failed(exc)
                published = 0
                await asyncio.sleep(self._poll_interval_s)
            else:
                self._database_answered()
            if published >= self._batch_size:
                continue  # more may be waiting: don't sleep
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    def _database_failed(self, exc: BaseException) -> None:
        """One line when the database stops answering, then a summary now and then."""
        now = time.monotonic()
        if self._db_down is None:
            log.warning("outbox_relay_db_unreachable", error=_describe(exc))
            self._db_down = (now, 1, now + self._summary_interval_s)
            return
        since, failures, next_summary = self._db_down
        if now >= next_summary:
            log.warning(
                "outbox_relay_db_still_unreachable",
                duration_s=round(now - since, 1),
                failed_rounds=failures + 1,
                error=_describe(exc),
            )
            next_summary = now + self._summary_interval_s
        self._db_down = (since, failures + 1, next_summary)

    def _database_answered(self) -> None:
        if self._db_down is not None:
            since, failures, _ = self._db_down
            log.info(
                "outbox_relay_db_back",
                duration_s=round(time.monotonic() - since, 1),
                failed_rounds=failures,
            )
            self._db_down = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
