"""An HTTP request waits a bounded time for a database connection, then gets a French 503."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from relais_runtime.app import DatabaseWaitBound
from relais_runtime.db import create_pool
from relais_runtime.errors import install_error_handlers


async def test_a_request_waiting_too_long_for_a_connection_gets_503_but_a_consumer_waits(
    database_dsn: str,
) -> None:
    pool = await create_pool(database_dsn, min_size=1, max_size=1)
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(DatabaseWaitBound, seconds=0.5)

    @app.get("/count")
    async def count() -> dict[str, int]:
        async with pool.acquire() as conn:
            return {"n": await conn.fetchval("SELECT 1")}

    async def consumer_side() -> int:  # no request around it: no bound
        async with pool.acquire() as conn:
            value: int = await conn.fetchval("SELECT 1")
            return value

    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://relais") as http:
            held = await pool.acquire()  # the pool's only connection, busy elsewhere
            try:
                began = time.monotonic()
                refused = await http.get("/count")
                waited = time.monotonic() - began
                waiter = asyncio.create_task(consumer_side())
                await asyncio.sleep(1.0)
                assert not waiter.done()  # still waiting, well past the HTTP bound
            finally:
                await pool.release(held)
            assert await asyncio.wait_for(waiter, 10) == 1
            answered = await http.get("/count")
    finally:
        await pool.close()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["code"] == "database_busy"
    assert body["message"].startswith("Le service est très sollicité")
    assert "Réessayez dans 1 seconde." in body["message"]
    assert 0.45 <= waited < 5
    assert answered.status_code == 200
    assert answered.json() == {"n": 1}
