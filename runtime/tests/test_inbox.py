"""The inbox claim and its transaction, against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime import inbox
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from relais_runtime.runtime import RUNTIME_SCHEMA_DIR

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_dsn, RUNTIME_SCHEMA_DIR, lock_key="relais:test", scope="runtime")
    pool = await create_pool(database_dsn, min_size=1, max_size=2)
    await pool.execute("CREATE TABLE effects (note text NOT NULL)")
    yield pool
    await pool.close()


async def handle(pool: asyncpg.Pool, message_id: str, *, fail: bool = False) -> bool:
    async with pool.acquire() as conn, inbox.claimed(conn, "svc.q", message_id) as claim:
        if claim.new:
            await conn.execute("INSERT INTO effects VALUES ($1)", message_id)
        if fail:
            raise RuntimeError("handler failed")
        return claim.new


@pytest.mark.parametrize("message_id", ["0b7a3c1e-5d2f-4e1a-9c3b-2f1e0d9c8b7a", "it's \\ odd"])
async def test_a_claim_commits_with_the_effect_once_and_rolls_back_with_a_failure(
    pool: asyncpg.Pool, message_id: str
) -> None:
    with pytest.raises(RuntimeError):
        await handle(pool, message_id, fail=True)
    assert await pool.fetchval("SELECT count(*) FROM relais_inbox") == 0
    assert await pool.fetchval("SELECT count(*) FROM effects") == 0
    assert await handle(pool, message_id) is True
    assert await handle(pool, message_id) is False  # redelivered: already handled
    assert await pool.fetch("SELECT note FROM effects") == [(message_id,)]
    assert await pool.fetchval("SELECT message_id FROM relais_inbox") == message_id
    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()  # nothing left open on the pooled connection


async def emit(pool: asyncpg.Pool, events: list[CloudEvent[Any]], *, fail: bool = False) -> None:
    async with pool.acquire() as conn, inbox.claimed(conn, "svc.q", "m-1") as claim:
        claim.outbox.extend(events)
        if fail:
            raise RuntimeError("handler failed")


async def test_events_written_with_the_commit_keep_every_value_as_given_or_go_with_a_failure(
    pool: asyncpg.Pool,
) -> None:
    """The outbox rows go in the COMMIT's simple query, values written in the statement:
    a correlation id that would end a literal is stored as it is, and nothing else runs."""
    odd = "it's \\ '); DELETE FROM effects; --"
    events = [
        new_event(
            ReferralWithdrawn(
                referral_id=uuid.uuid4(),
                subject_id=uuid.uuid4(),
                institution_id="ecole-test",
                withdrawn_at=datetime.now(UTC),
            ),
            source="/relais/test",
            tenant="pre-76540",
            sequence=n,
            correlationid=odd,
        )
        for n in (1, 2)
    ]
    await pool.execute("INSERT INTO effects VALUES ('kept')")
    with pytest.raises(RuntimeError):
        await emit(pool, events, fail=True)
    assert await pool.fetchval("SELECT count(*) FROM relais_outbox") == 0
    await emit(pool, events)
    rows = await pool.fetch(
        "SELECT id, exchange, routing_key, body, correlation_id, traceparent, tracestate "
        "FROM relais_outbox ORDER BY position"
    )
    assert [tuple(r) for r in rows] == [
        (e.id, EVENTS_EXCHANGE, e.routing_key(), e.model_dump_json().encode(), odd, None, None)
        for e in events
    ]
    assert await pool.fetch("SELECT note FROM effects") == [("kept",)]
