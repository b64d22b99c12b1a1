"""Wakes the feed's live streams when an item is committed (PostgreSQL LISTEN/NOTIFY).

One listening connection per process (the runtime's ``PgListener``, which reopens a lost
connection); each stream arms a wake-up for its PRE, reads what is new for its user, then
waits on that wake-up. Streams poll while the connection is down.
"""

from __future__ import annotations

import asyncio
import contextlib

from relais_runtime.listen import PgListener

CHANNEL = "relais_feed"


class FeedHub:
    def __init__(self, dsn: str, fallback_poll_s: float = 5.0) -> None:
        self._poll = fallback_poll_s
        self._events: dict[str, asyncio.Event] = {}
        self._listener = PgListener(dsn, CHANNEL, self._on_notify)

    def start(self) -> None:
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    @property
    def listening(self) -> asyncio.Event:
        """Set while notifications are heard (until then, streams wake by polling)."""
        return self._listener.listening

    def arm(self, tenant: str) -> asyncio.Event:
        """The wake-up for the next change in ``tenant``: take it *before* reading, then
        ``wait`` on it. A notification arriving between the read and the wait sets it, so
        the wait returns at once instead of sleeping through it (one taken after the read
        would miss it: each notification sets the current wake-up and a new one is made)."""
        return self._events.setdefault(tenant, asyncio.Event())

    async def wait(self, armed: asyncio.Event, within_s: float) -> None:
        """Return when ``armed`` (from ``arm``) was set, or after ``within_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(armed.wait(), min(within_s, self._poll))

    def _on_notify(self, tenant: str) -> None:
        event = self._events.pop(tenant, None)
        if event is not None:
            event.set()
