"""Use case: rebuild every projection from the anonymous event log, in one transaction.

The whole log is folded in memory (a region's years fit easily: a fact document is a few
hundred bytes) and the documents are swapped in with COPY; the live consumer waits on the
table lock meanwhile, so no event is folded twice or lost.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_runtime.db import Conn

Progress = Callable[[int], None]


async def rebuild(conn: Conn, progress: Progress | None = None) -> tuple[int, int]:
    """Fold the log again; returns (events read, documents written)."""
    # Millions of small dicts and no reference cycles: the cyclic collector would rescan
    # the growing heap again and again (measured: it halves the rate). Pause it meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _rebuild(conn, progress)
    finally:
        if collecting:
            gc.enable()


async def _rebuild(conn: Conn, progress: Progress | None) -> tuple[int, int]:
    async with conn.transaction():
        # Block the live consumer's writes so its folds land before or after, never lost.
        # Same order as the consumer (log, then facts), so the two never deadlock.
        await conn.execute("LOCK TABLE event_log, fact IN SHARE ROW EXCLUSIVE MODE")
        docs: facts.Projections = {}
        read = 0
        async for batch in store.stream_log(conn):
            facts.fold_all(batch, into=docs)
            read += len(batch)
            if progress:
                progress(len(batch))
        await store.replace_facts(conn, docs)
    return read, len(docs)
