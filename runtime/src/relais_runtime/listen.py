"""One PostgreSQL LISTEN, held open for the life of a process and reopened when lost.

The outbox relay hears that rows were written, the notifications feed that an item was
committed: both keep one connection of their own LISTENing on a channel. A database
restart ends that connection; the listener opens a new one after ``retry_s`` (whoever
relies on it polls meanwhile) and says so through ``on_listening``, so the caller can
catch up on what was notified while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg

from relais_runtime.background import BackgroundLoop


class PgListener(BackgroundLoop):
    """Calls ``on_notify(payload)`` for each NOTIFY on ``channel``, across reconnections."""

    task_name = "pg-listen"

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notify: Callable[[str], None],
        *,
        on_listening: Callable[[], None] | None = None,
        retry_s: float = 1.0,
    ) -> None:
        super().__init__()
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify
        self._on_listening = on_listening
        self._retry_s = retry_s
        #: Set while the LISTEN is in place (a NOTIFY before it is not heard by anyone).
        self.listening = asyncio.Event()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self._on_notify(str(payload))

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self._channel, self._notified)
                self.listening.set()
                if self._on_listening is not None:
                    self._on_listening()
                await lost.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self._retry_s)
