"""PostgreSQL connection pools (asyncpg) with JSON codecs."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A connection, whether taken from a pool (a proxy) or opened directly.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(conn: Conn) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections encode/decode json and jsonb as Python objects.

    asyncpg re-opens broken connections on the next acquire, so a PostgreSQL restart only
    fails the transactions in flight (which the callers retry).
    """
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")


def jsonable(value: Any) -> Any:
    """Round-trip through JSON so values stored in jsonb compare equal when read back."""
    return json.loads(json.dumps(value, default=str))
