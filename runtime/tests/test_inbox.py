"""The inbox claim and its transaction, against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

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
    async with pool.acquire() as conn, inbox.claimed(conn, "svc.q", message_id) as new:
        if new:
            await conn.execute("INSERT INTO effects VALUES ($1)", message_id)
        if fail:
            raise RuntimeError("handler failed")
        return new


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
