"""The referral service's own maintenance: a loop in every replica, beside the runtime's.

The runtime's maintenance loop prunes the inbox but takes no service-specific work, so
this one (erasing the children past their retention) runs in the app's lifespan with the
same period (``maintenance_interval_s``), beside the runtime's idempotency pruner.
"""

from __future__ import annotations

import asyncio

import asyncpg

from relais_referral.adapters import fiches
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.config import ReferralSettings
from relais_referral.service import retention
from relais_runtime.background import BackgroundLoop
from relais_runtime.idempotency import IdempotencyPruner
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime

log = get_logger(__name__)


class Maintenance(BackgroundLoop):
    task_name = "referral-maintenance"

    def __init__(
        self, runtime: ServiceRuntime, settings: ReferralSettings, keys: ReferralKeys
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = settings
        self.keys = keys

    async def run_once(self) -> int:
        """Move older fiches under their child's key, then erase every child due; the
        number erased."""
        # Fiches written before per-child keys (migration 0005): moved on the first run.
        await fiches.move_under_child_keys(self.runtime.pool, self.keys)
        erased = 0
        while batch := await retention.erase_due(self.runtime, self.settings):
            erased += batch  # a batch done: there may be more
        return erased

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("referral_maintenance_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.maintenance_interval_s)


def idempotency_pruner(runtime: ServiceRuntime, settings: ReferralSettings) -> IdempotencyPruner:
    """Forgets the Idempotency-Keys past ``idempotency_retention_days`` (ADR 0007)."""
    return IdempotencyPruner(
        lambda: runtime.pool,
        retention_days=settings.idempotency_retention_days,
        batch=settings.idempotency_prune_batch,
        interval_s=settings.maintenance_interval_s,
    )
