"""SQL of idempotency keys of the PRE team's POSTs.

Every function takes the PRE and every query names it; row-level security (ADR 0018)
refuses what a query would forget.
"""

from __future__ import annotations

import uuid

import asyncpg

from relais_runtime.db import Conn


async def idempotency_lookup(
    conn: Conn, pre_id: str, principal: str, key: str
) -> asyncpg.Record | None:
    # Serialise two concurrent requests with the same key on a transaction-scoped lock.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2 || '/' || $3))",
        pre_id,
        principal,
        key,
    )
    return await conn.fetchrow(
        "SELECT scope, result_id FROM idempotency_keys "
        "WHERE pre_id = $1 AND principal = $2 AND key = $3",
        pre_id,
        principal,
        key,
    )


async def idempotency_store(
    conn: Conn, pre_id: str, principal: str, key: str, scope: str, result_id: uuid.UUID
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (pre_id, principal, key, scope, result_id) "
        "VALUES ($1, $2, $3, $4, $5)",
        pre_id,
        principal,
        key,
        scope,
        result_id,
    )
