"""The outbox relay against the real PostgreSQL; the broker side is a recording publisher."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relais_contracts.envelope import new_event
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime import outbox
from relais_runtime.db import create_pool
from relais_runtime.outbox import OutboxRelay, OutgoingMessage
from relais_runtime.runtime import prepare_database

pytestmark = pytest.mark.integration


async def test_stopping_the_relay_lets_the_batch_in_flight_finish_so_nothing_goes_out_twice(
    database_dsn: str, tmp_path: Path
) -> None:
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for _ in range(5):
                data = ReferralWithdrawn(
                    referral_id=uuid.uuid4(),
                    subject_id=uuid.uuid4(),
                    institution_id="ecole-test",
                    withdrawn_at=datetime.now(UTC),
                )
                event = new_event(
                    data, source="/relais/referral", subject="s", tenant="pre-76540", sequence=1
                )
                await outbox.add(conn, event)
        started = asyncio.Event()
        confirmed: list[uuid.UUID] = []

        async def slow_broker(message: OutgoingMessage) -> None:
            started.set()
            await asyncio.sleep(0.5)  # the broker's confirm takes a while
            confirmed.append(message.id)

        relay = OutboxRelay(pool, slow_broker, dsn=database_dsn, poll_interval_s=0.2)
        await relay.start()
        await asyncio.wait_for(started.wait(), 10)
        await relay.stop()  # mid-batch: every publish has begun, none is confirmed yet

        assert len(confirmed) == 5
        # Confirmed rows are deleted: a restart would not publish them again.
        assert await pool.fetchval("SELECT count(*) FROM relais_outbox") == 0
    finally:
        await pool.close()
