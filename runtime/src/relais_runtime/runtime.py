"""ServiceRuntime: one object wiring a service's database, broker, outbox relay and consumers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import structlog
from faststream.rabbit import RabbitBroker

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.v1.parcours import SubjectErased
from relais_runtime import db, inbox, metrics, outbox
from relais_runtime.background import Startable, cancel_and_wait, running
from relais_runtime.broker import create_broker
from relais_runtime.consumer import EventConsumer, Outcome
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.parking import ParkingLot, about_child
from relais_runtime.settings import RelaisSettings
from relais_runtime.topology import WorkQueue, declare_topology
from relais_runtime.uow import UnitOfWork, open_unit_of_work

RUNTIME_SCHEMA_DIR = Path(__file__).parent / "schema"

log = structlog.get_logger("relais.runtime")


def work_queues(names: Iterable[str]) -> list[WorkQueue]:
    """The declared shape (exchange, bindings) of the named queues, from the contract."""
    from relais_contracts.topology import QUEUES

    return [
        WorkQueue(name, QUEUES[name].exchange, tuple(QUEUES[name].binding_keys)) for name in names
    ]


async def prepare_database(dsn: str, service: str, migrations_dir: Path) -> None:
    """Create the database if needed, then apply the runtime's and the service's migrations."""
    from relais_runtime.migrations import ensure_database, migrate

    await ensure_database(dsn)
    await migrate(dsn, RUNTIME_SCHEMA_DIR, lock_key=f"relais:{service}", scope="runtime")
    await migrate(dsn, migrations_dir, lock_key=f"relais:{service}", scope=service)


class ServiceRuntime:
    def __init__(
        self,
        settings: RelaisSettings,
        *,
        service: str,
        migrations_dir: Path,
        queues: Iterable[str | WorkQueue] = (),
        run_relay: bool = True,
        db_role: str | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.source = f"/relais/{service}"
        self.migrations_dir = migrations_dir
        self.work_queues = [q if isinstance(q, WorkQueue) else work_queues([q])[0] for q in queues]
        self.queue_names = [q.name for q in self.work_queues]
        self.broker: RabbitBroker = create_broker(settings.amqp_url, prefetch=settings.prefetch)
        self._pool: asyncpg.Pool | None = None
        self._relay: outbox.OutboxRelay | None = None
        self._relay_pool: asyncpg.Pool | None = None
        self._lag_watch: asyncio.Task[None] | None = None
        #: Seconds the relay is behind (see outbox_max_lag_s); set while it is not.
        self.outbox_lag_s = 0.0
        self._caught_up = asyncio.Event()
        self._caught_up.set()
        self._publisher: outbox.AmqpPublisher | None = None
        self._run_relay = run_relay
        #: The role the service's pool runs as (SET ROLE), when it relies on row-level security.
        self.db_role = db_role
        self.consumers: dict[str, EventConsumer] = {}
        self._outcome_metrics: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._maintenance: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service runtime is not started")
        return self._pool

    def consumer(self, queue: str, *, prefetch: int | None = None) -> EventConsumer:
        """The consumer of ``queue`` (created on first call, with ``prefetch`` or the
        settings' ``prefetch``: a consumer in batches wants a larger window)."""
        if queue not in self.queue_names:
            raise ValueError(f"queue {queue!r} is not declared for service {self.service!r}")
        if queue not in self.consumers:
            self.consumers[queue] = EventConsumer(
                broker=self.broker,
                pool_getter=lambda: self.pool,
                queue=queue,
                source=self.source,
                prefetch=prefetch or self.settings.prefetch,
                immediate_attempts=self.settings.immediate_attempts,
                retry_delays_ms=self.settings.retry_delays_ms,
                on_outcome=self._record_outcome,
            )
        return self.consumers[queue]

    async def purge_parked_about(self, ids: Collection[str]) -> int:
        """Drop this service's parked messages about an erased child (``about_child``):
        a parked event may still hold what the erasure destroyed (a sealed identity)."""
        lot = ParkingLot(self.settings.amqp_url)
        dropped = 0
        for queue in self.queue_names:
            dropped += len(await lot.purge_matching(queue, about_child(ids)))
        return dropped

    async def purge_parked_after_erasure(self, erased: SubjectErased, *more: str) -> int:
        """``purge_parked_about`` the erased child's ids (and ``more`` of this service's),
        best effort: run by each service's ``subject.erased`` subscriber. The erasure
        stands if the broker fails (logged; the runbook's ``relais dlq purge-child`` is the
        fallback); a redelivered erasure purges again."""
        ids = [
            str(erased.subject_id),
            *map(str, erased.situation_ids),
            *map(str, erased.referral_ids),
            *more,
        ]
        try:
            dropped = await self.purge_parked_about(ids)
        except (OSError, aio_pika.exceptions.AMQPException) as exc:
            log.warning(
                "erasure_parked_purge_failed", service=self.service, error=type(exc).__name__
            )
            return 0
        if dropped:
            log.info("erasure_parked_messages_dropped", service=self.service, count=dropped)
        return dropped

    async def start(self) -> None:
        s = self.settings
        await prepare_database(s.database_url, self.service, self.migrations_dir)
        await declare_topology(
            s.amqp_url,
            self.work_queues,
            delays_ms=s.retry_delays_ms,
            delivery_limit=s.delivery_limit,
        )
        self._pool = await db.create_pool(
            s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max, role=self.db_role
        )
        await self.broker.start()
        # Consumers read through aio-pika on the broker's own (robust, failover) connection
        # rather than through FastStream's subscriber machinery (ADR 0024).
        connection = self.broker._connection
        assert connection is not None  # set by broker.start()
        for consumer in self.consumers.values():
            await consumer.start(connection)
        if self._run_relay:
            # The relay has a database connection and a broker connection of its own: under
            # load, HTTP requests and consumers hold every pooled connection and the broker
            # channel, and an outbox waiting behind them is lag nobody sees at intake.
            self._relay_pool = await db.create_pool(s.database_url, min_size=1, max_size=2)
            self._publisher = outbox.AmqpPublisher(s.amqp_url)
            await self._publisher.start()
            self._relay = outbox.OutboxRelay(
                self._relay_pool,
                self._publisher.publish,
                batch_size=s.outbox_batch_size,
                poll_interval_s=s.outbox_poll_interval_s,
                outage_summary_interval_s=s.outbox_outage_summary_s,
                on_published=metrics.OUTBOX_PUBLISHED.labels(service=self.service).inc,
                on_failed=metrics.OUTBOX_PUBLISH_FAILURES.labels(service=self.service).inc,
            )
            await self._relay.start()
        self._lag_watch = asyncio.create_task(self._watch_outbox_lag(), name="outbox-lag")
        self._maintenance = asyncio.create_task(self._maintain(), name="maintenance")
        self._watchdog = asyncio.create_task(self._watch_consumers(), name="consumer-watchdog")
        log.info("service_started", service=self.service, queues=self.queue_names)

    async def stop(self) -> None:
        for task in (self._maintenance, self._watchdog, self._lag_watch):
            if task is not None:
                await cancel_and_wait(task)
        self._maintenance = self._watchdog = self._lag_watch = None
        self._caught_up.set()
        if self._relay is not None:
            await self._relay.stop()
            self._relay = None
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None
        if self._relay_pool is not None:
            await self._relay_pool.close()
            self._relay_pool = None
        for consumer in self.consumers.values():
            await consumer.stop()
        await self.broker.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def lifespan_with(
        self, *loops: Startable
    ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app's lifespan: the runtime, then ``loops`` beside it (schedulers, pruners),
        stopped in reverse before the runtime stops."""

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            async with self.lifespan(app), running(*loops):
                yield

        return lifespan

    async def _maintain(self) -> None:
        """Prune old inbox ids; sample the outbox backlog and parked messages for /metrics."""
        pending = metrics.OUTBOX_PENDING.labels(service=self.service)
        oldest = metrics.OUTBOX_OLDEST_SECONDS.labels(service=self.service)
        while True:
            try:
                async with self.pool.acquire() as conn:
                    row = await conn.fetchrow(
                        "SELECT count(*) AS pending, coalesce(extract(epoch FROM "
                        "clock_timestamp() - min(created_at)), 0)::float8 AS oldest "
                        "FROM relais_outbox"
                    )
                    assert row is not None  # an aggregate always returns a row
                    pending.set(row["pending"])
                    oldest.set(row["oldest"])
                    await inbox.prune(conn, self.settings.inbox_retention_days)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("maintenance_failed", error=type(exc).__name__)
            if self.queue_names:
                try:
                    parked = await ParkingLot(self.settings.amqp_url).counts(self.queue_names)
                    for queue, count in parked.items():
                        metrics.PARKED_MESSAGES.labels(self.service, queue).set(count)
                except (OSError, aio_pika.exceptions.AMQPError) as exc:
                    log.warning("parking_count_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.maintenance_interval_s)

    async def _watch_outbox_lag(self) -> None:
        """Measure how far the relay is behind; open or close intake accordingly."""
        s = self.settings
        gauge = metrics.OUTBOX_LAG_SECONDS.labels(service=self.service)
        while True:
            try:
                # The relay's own pool when it runs here: the main one may be saturated.
                async with (self._relay_pool or self.pool).acquire() as conn:
                    lag = await conn.fetchval(outbox.LAG_QUERY)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox_lag_check_failed", error=type(exc).__name__)
            else:
                self.outbox_lag_s = float(lag)
                gauge.set(self.outbox_lag_s)
                behind = 0 < s.outbox_max_lag_s < self.outbox_lag_s
                if behind and self._caught_up.is_set():
                    self._caught_up.clear()
                    log.warning("intake_paused", lag_s=round(self.outbox_lag_s, 1))
                elif not behind and not self._caught_up.is_set():
                    self._caught_up.set()
                    log.info("intake_resumed", lag_s=round(self.outbox_lag_s, 1))
            await asyncio.sleep(s.outbox_lag_check_interval_s)

    def check_intake(self) -> None:
        """Refuse new work (503, Retry-After) while the outbox relay is behind its bound."""
        if self._caught_up.is_set():
            return
        retry_after = min(60, max(1, math.ceil(self.outbox_lag_s - self.settings.outbox_max_lag_s)))
        raise DomainError(
            "intake_overloaded",
            "Relais reçoit en ce moment plus qu'il ne peut transmettre : votre envoi n'a pas "
            f"été enregistré. Renvoyez-le dans {retry_after} seconde"
            + ("s." if retry_after > 1 else "."),
            status=503,
            headers={"Retry-After": str(retry_after)},
        )

    async def wait_for_intake(self) -> None:
        """Wait while the outbox relay is behind its bound (AMQP intake: the commands stay
        in their queue, unacknowledged, instead of being taken and delivered late)."""
        await self._caught_up.wait()

    async def _watch_consumers(self, grace: int = 3) -> None:
        """Re-subscribe a consumer lost while the broker is reachable (after ``grace`` checks).

        Right after a reconnect aio-pika needs a few seconds to restore consumers: the grace
        period leaves it that time before stepping in.
        """
        missing: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.settings.consumer_watchdog_interval_s)
            if not self.consumers or not await self.broker.ping(timeout=2):
                missing.clear()
                for name in self.consumers:  # nothing consumes while the broker is away
                    metrics.CONSUMER_UP.labels(self.service, name).set(0)
                continue
            for name, consumer in self.consumers.items():
                up = metrics.CONSUMER_UP.labels(self.service, name)
                try:
                    await consumer.check_consuming()
                    missing.pop(name, None)
                    up.set(1)
                    continue
                except Exception:
                    missing[name] = missing.get(name, 0) + 1
                    up.set(0)
                if missing[name] >= grace:
                    try:
                        await consumer.resubscribe()
                        missing.pop(name, None)
                    except Exception as exc:
                        log.warning("consumer_restart_failed", queue=name, error=repr(exc))

    def ready_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        async def broker() -> None:
            if not await self.broker.ping(timeout=2):
                raise ConnectionError("broker unreachable")

        async def database() -> None:
            await db.ping(self.pool)

        async def consumers() -> None:
            for consumer in self.consumers.values():
                await consumer.check_consuming()

        return {"broker": broker, "database": database, "consumers": consumers}

    def _record_outcome(self, queue: str, outcome: Outcome, seconds: float) -> None:
        # The labelled children are looked up once per (queue, outcome), not per message.
        key = (queue, outcome.status)
        children = self._outcome_metrics.get(key)
        if children is None:
            children = self._outcome_metrics[key] = (
                metrics.MESSAGES_CONSUMED.labels(
                    service=self.service, queue=queue, outcome=outcome.status
                ),
                metrics.MESSAGE_HANDLING_SECONDS.labels(service=self.service, queue=queue),
            )
        children[0].inc()
        children[1].observe(seconds)

    def unit_of_work(
        self,
        cause: CloudEvent[Any] | None = None,
        *,
        tenant: str | None = None,
        role: str | None = None,
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction on the pool and its outbox writer (``relais_runtime.uow``): commits
        when the block ends, rolls back on an exception; scoped to ``tenant`` or run as
        ``role`` when given."""
        return open_unit_of_work(
            self.pool, source=self.source, cause=cause, tenant=tenant, role=role
        )

    async def emit(
        self,
        conn: Conn,
        data: Message,
        *,
        subject: str,
        tenant: str,
        sequence: int,
        correlationid: str | None = None,
        causationid: str | None = None,
    ) -> CloudEvent[Any]:
        """Write an event to the outbox in the caller's transaction (HTTP use cases)."""
        event = new_event(
            data,
            source=self.source,
            subject=subject,
            tenant=tenant,
            sequence=sequence,
            correlationid=correlationid,
            causationid=causationid,
        )
        await outbox.add(conn, event)
        return event
