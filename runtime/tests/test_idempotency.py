"""The idempotency store against the real PostgreSQL: claim, replay, refusal, retention."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from relais_runtime import idempotency
from relais_runtime.db import create_pool
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyPruner, IdempotencyScope

pytestmark = pytest.mark.integration

SCHOOL = IdempotencyScope("pre-a", "college-hugo", "referrals.submit")
BODY = b'{"axes":["school"]}'


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_dsn, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute(idempotency.TABLE_SQL)
    yield pool
    await pool.close()


async def claim(
    pool: asyncpg.Pool, scope: IdempotencyScope, key: str, body: bytes = BODY
) -> uuid.UUID | None:
    async with pool.acquire() as conn, conn.transaction():
        return await idempotency.claim(
            conn, scope, key, idempotency.fingerprint(body), uuid.uuid4()
        )


def test_a_keyed_fingerprint_changes_with_the_body_and_with_the_key() -> None:
    key = os.urandom(32)
    assert idempotency.fingerprint(b"{}", key) == idempotency.fingerprint(b"{}", key)
    assert idempotency.fingerprint(b"{}", key) != idempotency.fingerprint(b"{ }", key)
    assert idempotency.fingerprint(b"{}", key) != idempotency.fingerprint(b"{}", os.urandom(32))
    assert idempotency.fingerprint(b"{}", key) != idempotency.fingerprint(b"{}")


async def test_a_new_key_is_claimed_and_the_same_request_again_gets_the_first_result(
    pool: asyncpg.Pool,
) -> None:
    first = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        claimed = await idempotency.claim(conn, SCHOOL, "k1", idempotency.fingerprint(BODY), first)
    assert claimed is None
    assert await claim(pool, SCHOOL, "k1") == first


async def test_the_same_key_with_another_body_is_refused_with_a_precise_code(
    pool: asyncpg.Pool,
) -> None:
    await claim(pool, SCHOOL, "k1")
    with pytest.raises(DomainError) as refused:
        await claim(pool, SCHOOL, "k1", b'{"axes":["health"]}')
    assert (refused.value.code, refused.value.status) == ("idempotency_key_reused", 409)
    assert "clé d'idempotence" in refused.value.message


async def test_a_key_belongs_to_its_pre_its_caller_and_its_route(pool: asyncpg.Pool) -> None:
    first = await claim(pool, SCHOOL, "k1")
    assert first is None
    for other in (
        IdempotencyScope("pre-b", SCHOOL.caller, SCHOOL.route),
        IdempotencyScope(SCHOOL.tenant, "lycee-sand", SCHOOL.route),
        IdempotencyScope(SCHOOL.tenant, SCHOOL.caller, "situations.open"),
    ):
        assert await claim(pool, other, "k1", b"another body") is None


async def test_a_claim_rolled_back_with_its_transaction_leaves_the_key_free(
    pool: asyncpg.Pool,
) -> None:
    async def claim_then_fail() -> None:
        async with pool.acquire() as conn, conn.transaction():
            digest = idempotency.fingerprint(BODY)
            await idempotency.claim(conn, SCHOOL, "k1", digest, uuid.uuid4())
            raise RuntimeError("the creation failed")

    with pytest.raises(RuntimeError):
        await claim_then_fail()
    assert await claim(pool, SCHOOL, "k1") is None


async def test_concurrent_claims_of_one_key_give_one_result(pool: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(claim(pool, SCHOOL, "same") for _ in range(4)))
    created = [r for r in results if r is None]
    assert len(created) == 1
    assert len({r for r in results if r is not None}) == 1


async def test_the_pruner_forgets_keys_past_their_retention_in_batches(
    pool: asyncpg.Pool,
) -> None:
    for key in ("old-1", "old-2", "old-3", "recent"):
        await claim(pool, SCHOOL, key)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE relais_idempotency SET created_at = now() - interval '31 days' "
            "WHERE key LIKE 'old-%'"
        )
    pruner = IdempotencyPruner(lambda: pool, retention_days=30, batch=2, interval_s=0.05)
    assert await pruner.run_once() == 3
    assert await pruner.run_once() == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT array_agg(key) FROM relais_idempotency") == ["recent"]
    # Forgotten: the same key is a new request.
    assert await claim(pool, SCHOOL, "old-1", b"another body") is None


async def test_the_pruner_runs_as_a_background_loop_until_stopped(pool: asyncpg.Pool) -> None:
    await claim(pool, SCHOOL, "old")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE relais_idempotency SET created_at = now() - interval '2 days'")
    pruner = IdempotencyPruner(lambda: pool, retention_days=1, batch=10, interval_s=0.05)
    pruner.start()
    try:
        for _ in range(100):
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) FROM relais_idempotency") == 0:
                    break
            await asyncio.sleep(0.05)
    finally:
        await pruner.stop()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM relais_idempotency") == 0
