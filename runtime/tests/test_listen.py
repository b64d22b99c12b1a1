"""The runtime's one LISTEN primitive, shared by the outbox relay and the live feed."""

from __future__ import annotations

import asyncio

import asyncpg

from relais_runtime.listen import PgListener


async def test_a_listener_hears_notifications_and_listens_again_after_its_connection_is_killed(
    database_dsn: str,
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listening = asyncio.Event()
    listener = PgListener(
        database_dsn, "relais_test", heard.put_nowait, on_listening=listening.set, retry_s=0.05
    )
    listener.start()
    conn = await asyncpg.connect(database_dsn)
    try:
        await asyncio.wait_for(listening.wait(), 10)
        await conn.execute("SELECT pg_notify('relais_test', 'first')")
        assert await asyncio.wait_for(heard.get(), 10) == "first"

        # A database restart, as the listener sees it: its backend is terminated.
        listening.clear()
        killed = await conn.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()) t"
        )
        assert killed == 1
        await asyncio.wait_for(listening.wait(), 10)
        await conn.execute("SELECT pg_notify('relais_test', 'second')")
        assert await asyncio.wait_for(heard.get(), 10) == "second"
    finally:
        await conn.close()
        await listener.stop()
    assert listener._task is None
