"""The connection pool against the real PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from relais_runtime.db import create_pool

pytestmark = pytest.mark.integration


async def last_statement(dsn: str, pid: int) -> str:
    observer = await asyncpg.connect(dsn)
    try:
        query: str = await observer.fetchval(
            "SELECT query FROM pg_stat_activity WHERE pid = $1", pid
        )
        return query
    finally:
        await observer.close()


async def test_releasing_a_connection_sends_no_reset_statement(database_dsn: str) -> None:
    pool = await create_pool(database_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid() /* the last one */")
        assert "the last one" in await last_statement(database_dsn, pid)
    finally:
        await pool.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(database_dsn: str) -> None:
    pool = await create_pool(database_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE t (n int)")
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO t VALUES (1)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM t") == 0
    finally:
        await pool.close()


async def test_a_tenant_scope_lasts_as_long_as_its_transaction(database_dsn: str) -> None:
    from relais_runtime.db import TENANT_SETTING, tenant_transaction

    pool = await create_pool(database_dsn, min_size=1, max_size=1)
    try:
        async with tenant_transaction(pool, "pre-1") as conn:
            assert await conn.fetchval("SELECT current_setting($1, true)", TENANT_SETTING) == (
                "pre-1"
            )
        async with pool.acquire() as conn:
            assert not await conn.fetchval("SELECT current_setting($1, true)", TENANT_SETTING)
    finally:
        await pool.close()


async def test_a_pool_with_a_role_runs_as_it_and_a_role_transaction_only_for_its_length(
    database_dsn: str,
) -> None:
    from relais_runtime.db import role_transaction

    admin = await asyncpg.connect(database_dsn)
    try:
        for role in ("relais_test_pool_role", "relais_test_sweep_role"):
            await admin.execute(
                "DO $$ BEGIN CREATE ROLE " + role + " NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
    finally:
        await admin.close()
    pool = await create_pool(database_dsn, min_size=1, max_size=1, role="relais_test_pool_role")
    try:
        async with role_transaction(pool, "relais_test_sweep_role") as conn:
            assert await conn.fetchval("SELECT current_user") == "relais_test_sweep_role"
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == "relais_test_pool_role"
    finally:
        await pool.close()
