"""Wakes the feed's live streams when an item is committed (PostgreSQL LISTEN/NOTIFY).

One listening connection per process; each stream arms a wake-up for its PRE, reads what
is new for its user, then waits on that wake-up. A lost connection is reopened; streams
poll meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

CHANNEL = "relais_feed"


class FeedHub:
    def __init__(self, dsn: str, fallback_poll_s: float = 5.0) -> None:
        self._dsn = dsn
        self._poll = fallback_poll_s
        self._events: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="feed-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def arm(self, pre_id: str) -> asyncio.Event:
        """The wake-up for the next change in ``pre_id``: take it *before* reading, then
        ``wait`` on it. A notification arriving between the read and the wait sets it, so
        the wait returns at once instead of sleeping through it (one taken after the read
        would miss it: each notification sets the current wake-up and a new one is made)."""
        return self._events.setdefault(pre_id, asyncio.Event())

    async def wait(self, armed: asyncio.Event, within_s: float) -> None:
        """Return when ``armed`` (from ``arm``) was set, or after ``within_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(armed.wait(), min(within_s, self._poll))

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, pre_id: object) -> None:
        event = self._events.pop(str(pre_id), None)
        if event is not None:
            event.set()

    async def _listen(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                await lost.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(1.0)
