"""Use case: forget the Idempotency-Keys older than their retention (ADR 0007)."""

from __future__ import annotations

from relais_referral.adapters import repository
from relais_runtime.runtime import ServiceRuntime


async def prune_idempotency_keys(runtime: ServiceRuntime, retention_days: int, batch: int) -> int:
    """Delete expired keys in batches of ``batch``, one transaction each; return how many.

    Safe in every replica at once: each batch skips the rows another one holds.
    """
    pruned = 0
    while True:
        async with runtime.pool.acquire() as conn, conn.transaction():
            deleted = await repository.prune_idempotency_keys(conn, retention_days, batch)
        pruned += deleted
        if deleted < batch:
            return pruned
