"""The outbox relay against the real PostgreSQL, with a recording publisher or the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
from structlog.testing import capture_logs

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime import outbox, testing
from relais_runtime.db import create_pool
from relais_runtime.outbox import AmqpPublisher, OutboxRelay, OutgoingMessage
from relais_runtime.runtime import prepare_database
from relais_runtime.topology import WorkQueue, declare_topology

pytestmark = pytest.mark.integration


async def test_stopping_the_relay_lets_the_batch_in_flight_finish_so_nothing_goes_out_twice(
    database_dsn: str, tmp_path: Path
) -> None:
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=2)
    try:
        await add_rows(pool, 5)
        started = asyncio.Event()
        confirmed: list[uuid.UUID] = []

        async def slow_broker(message: OutgoingMessage) -> None:
            started.set()
            await asyncio.sleep(0.5)  # the broker's confirm takes a while
            confirmed.append(message.id)

        relay = OutboxRelay(pool, slow_broker, poll_interval_s=0.2)
        await relay.start()
        await asyncio.wait_for(started.wait(), 10)
        await relay.stop()  # mid-batch: every publish has begun, none is confirmed yet

        assert len(confirmed) == 5
        # Confirmed rows are deleted: a restart would not publish them again.
        assert await pool.fetchval("SELECT count(*) FROM relais_outbox") == 0
    finally:
        await pool.close()


def withdrawn_event() -> CloudEvent[ReferralWithdrawn]:
    data = ReferralWithdrawn(
        referral_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        institution_id="ecole-test",
        withdrawn_at=datetime.now(UTC),
    )
    return new_event(data, source="/relais/referral", subject="s", tenant="pre-76540", sequence=1)


async def add_rows(pool: asyncpg.Pool, n: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            await outbox.add(conn, withdrawn_event())


async def withdrawals_queue(amqp_url: str) -> str:
    """A queue of this test's own, bound to the referral.withdrawn events."""
    queue = f"test.outbox-{uuid.uuid4().hex[:6]}"
    await declare_topology(
        amqp_url,
        [WorkQueue(queue, EVENTS_EXCHANGE, ("referral.withdrawn.v1.*",))],
        delays_ms=[200],
        delivery_limit=5,
    )
    return queue


@contextlib.asynccontextmanager
async def relay_to_broker(
    database_dsn: str, amqp_url: str, tmp_path: Path, **relay_options: Any
) -> AsyncIterator[tuple[str, asyncpg.Pool, OutboxRelay]]:
    """A relay (not started) publishing through ``AmqpPublisher`` to a queue of its own."""
    queue = await withdrawals_queue(amqp_url)
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=2)
    publisher = AmqpPublisher(amqp_url)
    await publisher.start()
    relay = OutboxRelay(pool, publisher.publish, **relay_options)
    try:
        yield queue, pool, relay
    finally:
        await relay.stop()
        await publisher.stop()
        await pool.close()


async def take_all(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message waiting in ``queue``, in order (acknowledged)."""
    taken = []
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        while (message := await q.get(fail=False, timeout=5)) is not None:
            taken.append(message)
            await message.ack()
    finally:
        await connection.close()
    return taken


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_a_broker_outage_is_logged_when_it_starts_while_it_lasts_and_when_it_ends(
    database_dsn: str, amqp_url: str, tmp_path: Path
) -> None:
    queue = await withdrawals_queue(amqp_url)
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=4)
    # The relay reaches the broker through a proxy the test cuts: the port closes and the
    # open connection drops, as when RabbitMQ stops.
    proxy = testing.TcpProxy(amqp_url)
    await proxy.start()
    parts = urlsplit(amqp_url)
    via_proxy = urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    publisher = AmqpPublisher(via_proxy)
    await publisher.start()
    relay = OutboxRelay(
        pool,
        publisher.publish,
        poll_interval_s=0.2,
        outage_summary_interval_s=1.0,
    )
    try:
        with capture_logs() as logs:
            await relay.start()
            await add_rows(pool, 50)

            async def first_rows_out() -> bool:
                return await testing.message_count(amqp_url, queue) == 50

            await until(first_rows_out)
            await until(lambda: outbox_empty(pool))
            proxy.cut()
            cut_at = asyncio.get_running_loop().time()
            await add_rows(pool, 300)
            added_at = asyncio.get_running_loop().time()  # the episode starts about here

            async def all_tried() -> bool:
                return await pool.fetchval("SELECT min(attempts) FROM relais_outbox") >= 2

            await until(all_tried)

            # The broker comes back once three summaries were logged, however long the
            # retries took on this machine (a fixed 4 s raced them at load ~11).
            async def three_summaries() -> bool:
                return sum(e["event"] == "outbox_publish_still_failing" for e in logs) >= 3

            await until(three_summaries)
            await proxy.restore()
            restored_at = asyncio.get_running_loop().time()
            # New traffic after the return: its publish releases the rows in backoff.
            await asyncio.sleep(2.5)  # the client reconnects every 2 s
            await add_rows(pool, 1)

            async def every_row_out() -> bool:
                return await testing.message_count(amqp_url, queue) == 351

            await until(every_row_out, timeout=20)
            await until(lambda: outbox_empty(pool))
            await relay.stop()
        drained_s = asyncio.get_running_loop().time() - cut_at
    finally:
        await relay.stop()
        await publisher.stop()
        await proxy.stop()
        await pool.close()

    outbox_lines = [e for e in logs if e["event"].startswith("outbox_")]
    events = [e["event"] for e in outbox_lines]
    # 300 rows tried at least twice each: before, one warning per row per attempt.
    assert "outbox_publish_failed" not in events
    [started] = [e for e in outbox_lines if e["event"] == "outbox_publish_failing"]
    assert started["log_level"] == "warning"
    assert started["error"]
    # One summary a second (the interval here) while rows wait, whatever their number.
    summaries = [e for e in outbox_lines if e["event"] == "outbox_publish_still_failing"]
    assert 3 <= len(summaries) <= drained_s + 1
    # The first three come before the broker is back.
    assert all(0 < s["rows_waiting"] <= 300 and s["backlog"] == 300 for s in summaries[:3])
    [recovered] = [e for e in outbox_lines if e["event"] == "outbox_publish_recovered"]
    assert recovered["rows_waited"] == 300
    assert recovered["failed_attempts"] >= 600
    # From the first failure (a moment after the rows were added) to the last row out.
    assert restored_at - added_at - 1 <= recovered["duration_s"] <= drained_s
    assert events == ["outbox_publish_failing"] + ["outbox_publish_still_failing"] * len(
        summaries
    ) + ["outbox_publish_recovered"]


async def outbox_empty(pool: asyncpg.Pool) -> bool:
    """True when the outbox is empty."""
    return await pool.fetchval("SELECT count(*) FROM relais_outbox") == 0


async def test_a_database_outage_is_logged_when_it_starts_while_it_lasts_and_when_it_ends(
    database_dsn: str, tmp_path: Path
) -> None:
    await prepare_database(database_dsn, "testsvc", tmp_path)
    # The relay reaches PostgreSQL through a proxy the test cuts, as a stopped database.
    proxy = testing.TcpProxy(database_dsn)
    await proxy.start()
    via_proxy = proxy.dsn(urlsplit(database_dsn).path.lstrip("/"))
    pool = await create_pool(via_proxy, max_size=2)
    direct = await create_pool(database_dsn, max_size=1)
    published: list[uuid.UUID] = []

    async def broker(message: OutgoingMessage) -> None:
        published.append(message.id)

    relay = OutboxRelay(pool, broker, poll_interval_s=0.1, outage_summary_interval_s=1.0)
    try:
        with capture_logs() as logs:
            await relay.start()
            proxy.cut()
            await add_rows(direct, 1)  # written meanwhile by a process that still reaches it
            await asyncio.sleep(3.5)  # some 30 rounds of the relay, each failing
            await proxy.restore()
            await until(lambda: outbox_empty(direct))
            await relay.stop()
    finally:
        await relay.stop()
        await proxy.stop()
        await pool.close()
        await direct.close()

    lines = [e for e in logs if e["event"].startswith("outbox_relay_db")]
    events = [e["event"] for e in lines]
    assert "outbox_relay_db_error" not in events  # before: one line per round
    summaries = events.count("outbox_relay_db_still_unreachable")
    assert 2 <= summaries <= 4
    assert events == ["outbox_relay_db_unreachable"] + [
        "outbox_relay_db_still_unreachable"
    ] * summaries + ["outbox_relay_db_back"]
    assert lines[-1]["failed_rounds"] >= 10
    assert lines[-1]["duration_s"] >= 3.0
    assert len(published) == 1


async def test_the_relay_publishes_each_row_persistent_and_confirmed_with_its_ids(
    database_dsn: str, amqp_url: str, tmp_path: Path
) -> None:
    event = withdrawn_event()
    async with relay_to_broker(database_dsn, amqp_url, tmp_path, poll_interval_s=0.2) as (
        queue,
        pool,
        relay,
    ):
        async with pool.acquire() as conn:
            await outbox.add(conn, event)
            # Nothing is bound to this routing key: the broker returns it, the row stays.
            await conn.execute(
                "INSERT INTO relais_outbox (id, exchange, routing_key, body, correlation_id) "
                "VALUES ($1, $2, 'nowhere.at.all', '{}', 'c')",
                uuid.uuid4(),
                EVENTS_EXCHANGE,
            )
        await relay.start()

        async def one_row_left() -> bool:
            return await pool.fetchval("SELECT count(*) FROM relais_outbox") == 1

        await until(one_row_left)
        await relay.stop()
        left = await pool.fetchrow("SELECT routing_key, attempts, last_error FROM relais_outbox")
        assert left["routing_key"] == "nowhere.at.all"
        assert left["attempts"] >= 1
        assert "NO_ROUTE" in left["last_error"]

        [message] = await take_all(amqp_url, queue)
    assert message.message_id == str(event.id)
    assert message.correlation_id == event.correlationid
    assert message.content_type == CLOUDEVENTS_CONTENT_TYPE
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.timestamp is not None
    assert CloudEvent[ReferralWithdrawn].model_validate_json(message.body).id == event.id


async def test_a_backlog_reaches_the_broker_in_the_order_it_was_written(
    database_dsn: str, amqp_url: str, tmp_path: Path
) -> None:
    # A batch's publishes are pipelined (none waits for the previous one's confirm):
    # they still leave, and arrive, in the outbox's order, across batches too.
    async with relay_to_broker(database_dsn, amqp_url, tmp_path, batch_size=50) as (
        queue,
        pool,
        relay,
    ):
        await add_rows(pool, 180)
        written = [
            str(r["id"]) for r in await pool.fetch("SELECT id FROM relais_outbox ORDER BY position")
        ]
        await relay.start()
        await until(lambda: outbox_empty(pool))
        await relay.stop()
        received = [m.message_id for m in await take_all(amqp_url, queue)]
    assert received == written


async def test_events_written_in_one_statement_keep_the_order_given(
    database_dsn: str, tmp_path: Path
) -> None:
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=1)
    events = [withdrawn_event() for _ in range(5)]
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, *events)
            await outbox.add(conn)  # nothing to write: no statement, no error
        rows = await pool.fetch("SELECT id, body FROM relais_outbox ORDER BY position")
    finally:
        await pool.close()
    assert [r["id"] for r in rows] == [e.id for e in events]
    assert [CloudEvent[ReferralWithdrawn].model_validate_json(r["body"]) for r in rows] == events


async def test_a_claim_reads_a_few_pages_however_many_rows_went_out_before_it(
    database_dsn: str, tmp_path: Path
) -> None:
    # An outbox is a queue table: rows live milliseconds, so between two autovacuums its
    # pages hold mostly dead rows. A claim that gathered every row due and sorted them read
    # them all (222 pages a claim after a minute at 50 referrals/s); in position order it
    # stops at the batch's size, and the index scans mark what they pass as dead.
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=2)
    published: list[uuid.UUID] = []

    async def broker(message: OutgoingMessage) -> None:
        published.append(message.id)

    try:
        relay = OutboxRelay(pool, broker, batch_size=50)
        for _ in range(300):  # 1,500 rows written and relayed, a few at a time
            await add_rows(pool, 5)
            assert await relay.run_once() == 5
        await add_rows(pool, 2)
        async with pool.acquire() as conn, conn.transaction():
            plan = await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT ctid, id FROM relais_outbox "
                "WHERE next_attempt_at <= now() ORDER BY position LIMIT 50 "
                "FOR UPDATE SKIP LOCKED"
            )
        top = plan[0]["Plan"]  # (the pool decodes json)
        assert top["Actual Rows"] == 2
        # About 5 (the index's pages, the two rows' page), where a scan of everything due
        # read every page the 1,500 rows before them went through.
        assert top["Shared Hit Blocks"] + top.get("Shared Read Blocks", 0) < 20, plan
        assert await relay.run_once() == 2
        assert len(published) == 1502
    finally:
        await pool.close()


async def test_a_transaction_here_wakes_the_relay_and_rows_written_elsewhere_wait_for_its_poll(
    database_dsn: str, tmp_path: Path
) -> None:
    # No NOTIFY (it takes PostgreSQL's global notify lock through each commit's WAL flush,
    # ADR 0028): a pooled connection that wrote rows wakes the relays of its process once
    # it is back in the pool; rows written elsewhere are found by the relay's poll.
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=2)
    elsewhere = await asyncpg.connect(database_dsn)  # a tool's, outside any Pool
    published: list[float] = []

    async def broker(message: OutgoingMessage) -> None:
        published.append(asyncio.get_running_loop().time())

    relay = OutboxRelay(pool, broker, poll_interval_s=5.0)
    await relay.start()
    try:
        await asyncio.sleep(0.3)  # the relay's first round found nothing: it waits
        written = asyncio.get_running_loop().time()
        await add_rows(pool, 1)
        await until(lambda: _count_at_least(published, 1), timeout=10)
        assert published[0] - written < 2.5  # woken, not polled (5 s)

        async with elsewhere.transaction():
            await outbox.add(elsewhere, withdrawn_event())
        await until(lambda: _count_at_least(published, 2), timeout=10)
        # Nobody woke it: the poll, 5 s after its last round, found the row.
        assert published[1] - published[0] > 4.9
    finally:
        await relay.stop()
        await elsewhere.close()
        await pool.close()


async def _count_at_least(items: list[float], n: int) -> bool:
    return len(items) >= n
