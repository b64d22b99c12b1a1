"""Messaging throughput: a raw aio-pika + asyncpg consumer versus the Relais runtime path.

Both paths do the same work for each incoming ``referral.withdrawn`` CloudEvent: one
PostgreSQL transaction that inserts one row into ``effects`` (keyed by the message id),
then one follow-up ``referral.status_changed`` CloudEvent published persistent, mandatory
and confirmed on ``relais.events``.

- **baseline**: a plain aio-pika consumer on a quorum queue (manual ack, prefetch from the
  option) that runs the transaction, publishes the follow-up with publisher confirms and
  acks. No envelope validation, no inbox, no outbox: the floor of what the work costs.
- **runtime**: a ``ServiceRuntime`` with an ``EventConsumer`` on a ``WorkQueue`` bound to
  ``relais.events``; the handler inserts the row through ``tx.conn`` and ``tx.emit``s the
  follow-up into the outbox (inbox de-duplication on), and the ``OutboxRelay`` publishes it.

A message counts as done, for **both** paths, when its follow-up is delivered to a
downstream consumer of the follow-up queue (matched by the follow-up's ``causationid``).
For the runtime that is the honest end: the event has left the outbox and reached the
broker, not merely been written to a table.

The input messages of a round are pre-loaded into the path's queue before its consumer
starts, so the producer is never the bottleneck. Rounds alternate (baseline, runtime,
then runtime, baseline, ...) and the figures are medians of rounds, so the ratio is
measured under the same machine noise.

Both paths run on uvloop, the loop the services run on (uvicorn takes it when it is
installed, and the runtime depends on it); ``--loop asyncio`` measures them on asyncio's
own loop, as this benchmark did until 2026-12-04 (its socket writes were a quarter of
the process's samples, and the runtime's CPU per message 1.25-1.39x the baseline's there
against 1.13-1.17x on uvloop, in the same session).

Run: ``uv run python benchmarks/messaging_throughput.py [--messages N] [--rounds R]
[--prefetch P] [--loop uvloop|asyncio] [--json]``. Needs the local RabbitMQ
(``rabbitmqctl`` for an isolated vhost) and PostgreSQL; everything it creates is removed
at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import uvloop
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError
from machine import MachineWatch

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralWithdrawn
from relais_runtime import testing
from relais_runtime.consumer import EventConsumer, Tx
from relais_runtime.logging import configure_logging
from relais_runtime.runtime import ServiceRuntime, prepare_database
from relais_runtime.settings import RelaisSettings
from relais_runtime.topology import WorkQueue, declare_topology, work_queue_arguments

GOAL_RATIO = 0.8
PATHS = ("baseline", "runtime")
#: Each path has its own tenant, so its input and follow-ups route to its own queues only.
TENANTS = {"baseline": "pre-bench-baseline", "runtime": "pre-bench-runtime"}
INPUT_QUEUES = {"baseline": "bench.baseline", "runtime": "bench.runtime"}
FOLLOWUP_QUEUES = {"baseline": "bench.baseline.followups", "runtime": "bench.runtime.followups"}
PUBLISHED_AT_HEADER = "x-bench-published-at"
EFFECTS_SQL = "CREATE TABLE effects (message_id text PRIMARY KEY, queue text NOT NULL);"
INSERT_EFFECT = "INSERT INTO effects (message_id, queue) VALUES ($1, $2)"
STALL_TIMEOUT_S = 30.0
#: Other test runs restart the shared broker now and then: a disrupted round is re-run.
ROUND_ATTEMPTS = 3
BROKER_WAIT_S = 180.0


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- measurement


class Tracker:
    """Timestamps of one round: published (pre-load), received (first delivery), done."""

    def __init__(self, path: str, message_ids: list[str]) -> None:
        self.path = path
        self.expected = len(message_ids)
        self.published: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.finished = asyncio.Event()
        #: CPU time of this process (consumer, relay, sink: everything in it) from the
        #: first delivery to the last completion.
        self.cpu_start = 0.0
        self.cpu_end = 0.0
        self._ids = set(message_ids)

    def mark_received(self, message_id: str | None) -> None:
        if message_id in self._ids and message_id not in self.received:
            if not self.received:
                self.cpu_start = time.process_time()
            self.received[message_id] = time.time()

    def mark_done(self, message_id: str) -> None:
        if message_id in self._ids and message_id not in self.done:
            self.done[message_id] = time.time()
            if len(self.done) >= self.expected:
                self.cpu_end = time.process_time()
                self.finished.set()

    async def wait(self, label: str) -> None:
        """Wait until every message is done; fail if nothing progresses for ``STALL_TIMEOUT_S``."""
        last, last_change = -1, time.monotonic()
        while not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), 1.0)
            count = len(self.done)
            progress(f"  {label}: {count}/{self.expected} done")
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > STALL_TIMEOUT_S:
                raise RuntimeError(f"{label}: stalled at {count}/{self.expected}")


@dataclass
class RoundResult:
    path: str
    round: int
    messages: int
    seconds: float
    msgs_per_s: float
    cpu_ms_per_msg: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    handling_p50_ms: float
    handling_p99_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarise(tracker: Tracker, round_no: int) -> RoundResult:
    start = min(tracker.received.values())
    end = max(tracker.done.values())
    e2e = [(tracker.done[m] - tracker.published[m]) * 1000 for m in tracker.done]
    handling = [(tracker.done[m] - tracker.received[m]) * 1000 for m in tracker.done]
    return RoundResult(
        path=tracker.path,
        round=round_no,
        messages=tracker.expected,
        seconds=end - start,
        msgs_per_s=tracker.expected / (end - start),
        cpu_ms_per_msg=(tracker.cpu_end - tracker.cpu_start) * 1000 / tracker.expected,
        e2e_p50_ms=percentile(e2e, 0.50),
        e2e_p99_ms=percentile(e2e, 0.99),
        handling_p50_ms=percentile(handling, 0.50),
        handling_p99_ms=percentile(handling, 0.99),
    )


# --------------------------------------------------------------------------- messages


def withdrawn_event(tenant: str) -> CloudEvent[Any]:
    data = ReferralWithdrawn(
        referral_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        institution_id="ecole-jules-ferry",
        withdrawn_at=dt.datetime.now(dt.UTC),
    )
    return new_event(data, source="/relais/referral", tenant=tenant, sequence=1)


def status_changed(data: ReferralWithdrawn) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=data.referral_id,
        institution_id=data.institution_id,
        status=ReferralStatus.WITHDRAWN,
        previous_status=ReferralStatus.RECEIVED,
        changed_at=data.withdrawn_at,
    )


def raw_followup(incoming: dict[str, Any], source: str) -> dict[str, Any]:
    """The baseline's follow-up: the same CloudEvent the runtime emits, built by hand."""
    data = incoming["data"]
    event_id = str(uuid.uuid4())
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": ReferralStatusChanged.ce_type(),
        "subject": data["referral_id"],
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "datacontenttype": "application/json",
        "dataschema": ReferralStatusChanged.schema_id(),
        "tenant": incoming["tenant"],
        "correlationid": incoming["correlationid"],
        "causationid": incoming["id"],
        "sequence": 2,
        "data": {
            "referral_id": data["referral_id"],
            "institution_id": data["institution_id"],
            "status": "withdrawn",
            "previous_status": "received",
            "reason": None,
            "redirected_to": None,
            "changed_at": data["withdrawn_at"],
        },
    }


async def preload(amqp_url: str, path: str, count: int) -> Tracker:
    """Publish ``count`` CloudEvents to ``relais.events`` for ``path``, confirmed."""
    events = [withdrawn_event(TENANTS[path]) for _ in range(count)]
    tracker = Tracker(path, [str(e.id) for e in events])
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        in_flight = asyncio.Semaphore(500)

        async def publish(event: CloudEvent[Any]) -> None:
            async with in_flight:
                published_at = time.time()
                await exchange.publish(
                    aio_pika.Message(
                        event.model_dump_json().encode(),
                        message_id=str(event.id),
                        correlation_id=event.correlationid,
                        content_type=CLOUDEVENTS_CONTENT_TYPE,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers={PUBLISHED_AT_HEADER: published_at},
                    ),
                    routing_key=event.routing_key(),
                    mandatory=True,
                )
                tracker.published[str(event.id)] = published_at

        await asyncio.gather(*(publish(e) for e in events))
    return tracker


# --------------------------------------------------------------------------- the sink


class FollowupSink:
    """Consumes both follow-up queues and marks the causing message done on arrival."""

    def __init__(self, amqp_url: str) -> None:
        self._amqp_url = amqp_url
        self._connection: AbstractRobustConnection | None = None
        self.trackers: dict[str, Tracker | None] = dict.fromkeys(PATHS)

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=1000)
        for path in PATHS:
            queue = await channel.get_queue(FOLLOWUP_QUEUES[path])
            await queue.consume(self._handler(path), no_ack=True)

    def _handler(self, path: str) -> Callable[[AbstractIncomingMessage], Any]:
        async def on_followup(message: AbstractIncomingMessage) -> None:
            tracker = self.trackers[path]
            if tracker is not None:
                tracker.mark_done(json.loads(message.body)["causationid"])

        return on_followup

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()


# --------------------------------------------------------------------------- baseline


class Baseline:
    """A plain aio-pika consumer: one asyncpg transaction, one confirmed publish, ack."""

    source = "/relais/baseline"

    def __init__(self, amqp_url: str, dsn: str, *, prefetch: int, pool_max: int) -> None:
        self._amqp_url = amqp_url
        self._dsn = dsn
        self._prefetch = prefetch
        self._pool_max = pool_max

    @contextlib.asynccontextmanager
    async def running(self, tracker: Tracker) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._pool_max)
        assert pool is not None
        connection = await aio_pika.connect(self._amqp_url)
        try:
            publish_channel = await connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            exchange = await publish_channel.get_exchange(EVENTS_EXCHANGE)
            consume_channel: AbstractChannel = await connection.channel()
            await consume_channel.set_qos(prefetch_count=self._prefetch)
            queue = await consume_channel.get_queue(INPUT_QUEUES["baseline"])
            await queue.consume(self._handler(tracker, pool, exchange))
            yield
        finally:
            await connection.close()
            await pool.close()

    def _handler(
        self, tracker: Tracker, pool: asyncpg.Pool, exchange: AbstractExchange
    ) -> Callable[[AbstractIncomingMessage], Any]:
        queue_name = INPUT_QUEUES["baseline"]

        async def on_message(message: AbstractIncomingMessage) -> None:
            tracker.mark_received(message.message_id)
            incoming = json.loads(message.body)
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(INSERT_EFFECT, incoming["id"], queue_name)
            followup = raw_followup(incoming, self.source)
            await exchange.publish(
                aio_pika.Message(
                    json.dumps(followup).encode(),
                    message_id=followup["id"],
                    correlation_id=followup["correlationid"],
                    content_type=CLOUDEVENTS_CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=f"referral.status_changed.v1.{followup['tenant']}",
                mandatory=True,
                timeout=10,
            )
            await message.ack()

        return on_message


# --------------------------------------------------------------------------- runtime


def mark_received(tracker: Tracker, consumer: EventConsumer) -> None:
    """Stamp the first delivery of each message, before the consumer parses it."""
    on_delivery = consumer._on_delivery

    async def marked(message: AbstractIncomingMessage) -> None:
        tracker.mark_received(message.message_id)
        await on_delivery(message)

    consumer._on_delivery = marked  # type: ignore[method-assign]


class RuntimePath:
    """The same work through ``ServiceRuntime``: handler, inbox, outbox, relay."""

    def __init__(self, amqp_url: str, dsn: str, migrations_dir: Path, *, prefetch: int) -> None:
        self.settings = RelaisSettings(amqp_url=amqp_url, database_url=dsn, prefetch=prefetch)
        self.migrations_dir = migrations_dir
        self.work_queue = WorkQueue(
            INPUT_QUEUES["runtime"],
            EVENTS_EXCHANGE,
            (ReferralWithdrawn.routing_key(TENANTS["runtime"]),),
        )

    def build(self) -> ServiceRuntime:
        runtime = ServiceRuntime(
            self.settings,
            service="bench",
            migrations_dir=self.migrations_dir,
            queues=[self.work_queue],
        )
        consumer = runtime.consumer(self.work_queue.name)
        queue_name = self.work_queue.name

        @consumer.handles(ReferralWithdrawn)
        async def on_referral_withdrawn(event: CloudEvent[ReferralWithdrawn], tx: Tx) -> None:
            await tx.conn.execute(INSERT_EFFECT, str(event.id), queue_name)
            await tx.emit(status_changed(event.data), subject=event.subject, sequence=2)

        return runtime

    @contextlib.asynccontextmanager
    async def running(self, tracker: Tracker) -> AsyncIterator[ServiceRuntime]:
        runtime = self.build()
        mark_received(tracker, runtime.consumers[self.work_queue.name])
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()


# --------------------------------------------------------------------------- set-up


@dataclass
class Environment:
    vhost: str
    amqp_url: str
    databases: dict[str, str] = field(default_factory=dict)  # path -> database name
    dsns: dict[str, str] = field(default_factory=dict)


async def declare(env: Environment, runtime_path: RuntimePath) -> None:
    s = runtime_path.settings
    await declare_topology(
        env.amqp_url,
        [runtime_path.work_queue],
        delays_ms=s.retry_delays_ms,
        delivery_limit=s.delivery_limit,
    )
    connection = await aio_pika.connect(env.amqp_url)
    async with connection:
        channel = await connection.channel()
        # The baseline's input queue has the same shape as a runtime work queue.
        baseline = await channel.declare_queue(
            INPUT_QUEUES["baseline"],
            durable=True,
            arguments=work_queue_arguments(INPUT_QUEUES["baseline"], s.delivery_limit),
        )
        await baseline.bind(EVENTS_EXCHANGE, ReferralWithdrawn.routing_key(TENANTS["baseline"]))
        for path in PATHS:
            followups = await channel.declare_queue(
                FOLLOWUP_QUEUES[path], durable=True, arguments={"x-queue-type": "quorum"}
            )
            await followups.bind(EVENTS_EXCHANGE, ReferralStatusChanged.routing_key(TENANTS[path]))


async def reset_tables(env: Environment) -> None:
    """Start every round from empty tables (the outbox is empty after a round)."""
    for path, dsn in env.dsns.items():
        conn = await asyncpg.connect(dsn)
        try:
            tables = "effects, relais_inbox, relais_outbox" if path == "runtime" else "effects"
            await conn.execute(f"TRUNCATE {tables}")
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()


async def run_round_with_retries(
    path: str,
    round_no: int,
    count: int,
    env: Environment,
    sink: FollowupSink,
    baseline: Baseline,
    runtime_path: RuntimePath,
) -> RoundResult:
    """Run a round; if the broker or database went away under it, start the round over."""
    for attempt in range(1, ROUND_ATTEMPTS + 1):
        try:
            return await run_round(path, round_no, count, env, sink, baseline, runtime_path)
        except (RuntimeError, OSError, AMQPError, asyncpg.PostgresError) as exc:
            if attempt == ROUND_ATTEMPTS:
                raise
            progress(f"{path} round {round_no}: disrupted ({exc!r}); re-running the round")
            await recover(env, sink)
    raise AssertionError("unreachable")


async def recover(env: Environment, sink: FollowupSink) -> None:
    """Wait for the broker, empty the queues (tables are reset by the round), new sink."""
    deadline = time.monotonic() + BROKER_WAIT_S
    while True:
        try:
            connection = await aio_pika.connect(env.amqp_url)
            break
        except (OSError, AMQPError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(2)
    async with connection:
        channel = await connection.channel()
        for name in (*INPUT_QUEUES.values(), *FOLLOWUP_QUEUES.values()):
            queue = await channel.get_queue(name)
            await queue.purge()
    await sink.stop()
    await sink.start()


async def run_round(
    path: str,
    round_no: int,
    count: int,
    env: Environment,
    sink: FollowupSink,
    baseline: Baseline,
    runtime_path: RuntimePath,
) -> RoundResult:
    label = f"{path} round {round_no}" if round_no else f"{path} warm-up"
    await reset_tables(env)
    progress(f"{label}: pre-loading {count} messages")
    tracker = await preload(env.amqp_url, path, count)
    sink.trackers[path] = tracker
    try:
        if path == "baseline":
            async with baseline.running(tracker):
                await tracker.wait(label)
        else:
            async with runtime_path.running(tracker) as runtime:
                await tracker.wait(label)
                # Every follow-up reached the broker; let the relay commit its last
                # DELETE before stopping (a cancelled batch would be re-published).
                await wait_outbox_empty(runtime.pool, label)
            await assert_runtime_drained(env.dsns["runtime"], count)
    finally:
        sink.trackers[path] = None
    result = summarise(tracker, round_no)
    progress(f"{label}: {result.msgs_per_s:,.0f} msg/s")
    return result


async def wait_outbox_empty(pool: asyncpg.Pool, label: str) -> None:
    deadline = time.monotonic() + STALL_TIMEOUT_S
    while await pool.fetchval("SELECT count(*) FROM relais_outbox"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: the outbox did not drain")
        await asyncio.sleep(0.05)


async def assert_runtime_drained(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        left = await conn.fetchval("SELECT count(*) FROM relais_outbox")
        effects = await conn.fetchval("SELECT count(*) FROM effects")
        inbox = await conn.fetchval("SELECT count(*) FROM relais_inbox")
    finally:
        await conn.close()
    if left or effects != count or inbox != count:
        raise RuntimeError(f"runtime round inconsistent: outbox={left} effects={effects} {inbox=}")


# --------------------------------------------------------------------------- report


def median_of(results: list[RoundResult], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in results)


def build_report(args: argparse.Namespace, results: list[RoundResult]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for path in args.paths:
        mine = [r for r in results if r.path == path]
        summary[path] = {
            "msgs_per_s": median_of(mine, "msgs_per_s"),
            "cpu_ms_per_msg": median_of(mine, "cpu_ms_per_msg"),
            "e2e_p50_ms": median_of(mine, "e2e_p50_ms"),
            "e2e_p99_ms": median_of(mine, "e2e_p99_ms"),
            "handling_p50_ms": median_of(mine, "handling_p50_ms"),
            "handling_p99_ms": median_of(mine, "handling_p99_ms"),
            "rounds_msgs_per_s": [r.msgs_per_s for r in mine],
        }
    ratio: float | None = None
    round_ratios: list[float] = []
    if len(summary) == len(PATHS):
        ratio = summary["runtime"]["msgs_per_s"] / summary["baseline"]["msgs_per_s"]
        round_ratios = [
            runtime / baseline
            for baseline, runtime in zip(
                summary["baseline"]["rounds_msgs_per_s"],
                summary["runtime"]["rounds_msgs_per_s"],
                strict=True,
            )
        ]
    return {
        "benchmark": "messaging_throughput",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "messages": args.messages,
        "rounds": args.rounds,
        "prefetch": args.prefetch,
        "loop": args.loop,
        "completion": "follow-up event delivered to a consumer of the follow-up queue",
        "summary": summary,
        "ratio": ratio,
        "round_ratios": round_ratios,
        "goal_ratio": GOAL_RATIO,
        "pass": None if ratio is None else ratio >= GOAL_RATIO,
        "results": [asdict(r) for r in results],
    }


def print_table(report: dict[str, Any]) -> None:
    s = report["summary"]
    print(
        f"Relais messaging throughput: {report['messages']} messages x {report['rounds']} "
        f"rounds, prefetch {report['prefetch']}, {report['loop']} loop, "
        f"{report['machine']['cpus']} CPUs, "
        f"{report['date']}"
    )
    print(f"done     = {report['completion']} (both paths)")
    print("e2e      = from the producer's publish (a pre-loaded backlog: includes time queued)")
    print("handling = from the first delivery to the consumer until done")
    print("cpu      = CPU time of this Python process per message (consumer, relay, sink)")
    print()
    header = (
        f"{'path':<9} {'msgs/s':>7} {'cpu/msg':>8} {'e2e p50':>9} {'e2e p99':>9} "
        f"{'handl p50':>10} {'handl p99':>10}   rounds (msgs/s)"
    )
    print(header)
    print("-" * len(header))
    for path, p in s.items():
        rounds = ", ".join(f"{v:,.0f}" for v in p["rounds_msgs_per_s"])
        print(
            f"{path:<9} {p['msgs_per_s']:>7,.0f} {p['cpu_ms_per_msg']:>6,.2f}ms "
            f"{p['e2e_p50_ms']:>7,.0f}ms {p['e2e_p99_ms']:>7,.0f}ms "
            f"{p['handling_p50_ms']:>8,.1f}ms {p['handling_p99_ms']:>8,.1f}ms   {rounds}"
        )
    print()
    if report["ratio"] is None:
        print("one path only: no ratio")
        return
    verdict = "PASS" if report["pass"] else "BELOW"
    paired = ", ".join(f"{r:.0%}" for r in report["round_ratios"])
    print(f"ratio runtime/baseline throughput: {report['ratio']:.0%} (round by round: {paired})")
    print(f"goal: runtime >= {report['goal_ratio']:.0%} of baseline: {verdict}")


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("bench", "WARNING", stream="stderr")
    env = Environment(vhost=testing.unique_name("relais-bench"), amqp_url="")
    sink: FollowupSink | None = None
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        migrations = Path(tmp)
        (migrations / "0001_effects.sql").write_text(EFFECTS_SQL)
        try:
            progress(f"creating vhost {env.vhost} and databases")
            env.amqp_url = await testing.create_vhost(env.vhost)
            for path in PATHS:
                name = testing.unique_name(f"relais_bench_{path}")
                env.dsns[path] = await testing.create_database(name)
                env.databases[path] = name
            baseline_conn = await asyncpg.connect(env.dsns["baseline"])
            try:
                await baseline_conn.execute(EFFECTS_SQL)
            finally:
                await baseline_conn.close()
            runtime_path = RuntimePath(
                env.amqp_url, env.dsns["runtime"], migrations, prefetch=args.prefetch
            )
            baseline = Baseline(
                env.amqp_url,
                env.dsns["baseline"],
                prefetch=args.prefetch,
                pool_max=runtime_path.settings.db_pool_max,
            )
            await prepare_database(env.dsns["runtime"], "bench", migrations)
            await declare(env, runtime_path)
            sink = FollowupSink(env.amqp_url)
            await sink.start()

            if args.warmup:
                for path in args.paths:
                    await run_round_with_retries(
                        path, 0, args.warmup, env, sink, baseline, runtime_path
                    )
            results: list[RoundResult] = []
            for round_no in range(1, args.rounds + 1):
                order = args.paths if round_no % 2 else tuple(reversed(args.paths))
                for path in order:
                    results.append(
                        await run_round_with_retries(
                            path, round_no, args.messages, env, sink, baseline, runtime_path
                        )
                    )
            return build_report(args, results)
        finally:
            progress("cleaning up")
            if sink is not None:
                with contextlib.suppress(Exception):
                    await sink.stop()
            for name in env.databases.values():
                with contextlib.suppress(Exception):
                    await testing.drop_database(name)
            if env.amqp_url:
                with contextlib.suppress(Exception):
                    await testing.delete_vhost(env.vhost)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Messaging throughput of the Relais runtime path against a raw "
        "aio-pika + asyncpg baseline, measured in the same run.",
    )
    parser.add_argument("--messages", type=int, default=5000, help="messages per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per path (alternated; median reported)"
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=RelaisSettings.model_fields["prefetch"].default,
        help="consumer prefetch (= handler concurrency) for both paths",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="unreported warm-up messages per path (0: none)"
    )
    parser.add_argument(
        "--only",
        choices=PATHS,
        help="run one path only (for profiling, e.g. under py-spy); no ratio",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop of both paths: uvloop, as the services run under uvicorn "
        "(default), or asyncio's own",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    args.paths = (args.only,) if args.only else PATHS
    if args.messages < 1 or args.rounds < 1 or args.prefetch < 1 or args.warmup < 0:
        parser.error("--messages, --rounds and --prefetch must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    watch = MachineWatch().start()
    try:
        report = uvloop.run(run(args)) if args.loop == "uvloop" else asyncio.run(run(args))
    except KeyboardInterrupt:
        watch.stop()
        progress("interrupted")
        return 130
    report["host_speed"] = asdict(machine := watch.stop())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
        print(machine.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
