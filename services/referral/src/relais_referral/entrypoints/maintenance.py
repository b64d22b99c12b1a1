"""The referral service's own maintenance: a loop in every replica, beside the runtime's.

The runtime's maintenance loop prunes the inbox but takes no service-specific work, so
this one runs in the app's lifespan with the same period (``maintenance_interval_s``).
"""

from __future__ import annotations

import asyncio

import asyncpg

from relais_referral.adapters import fiches
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.config import ReferralSettings
from relais_referral.service import retention
from relais_referral.service.prune_idempotency_keys import prune_idempotency_keys
from relais_runtime.background import BackgroundLoop
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
        s = self.settings
        # Fiches written before per-child keys (migration 0005): moved on the first run.
        await fiches.move_under_child_keys(self.runtime.pool, self.keys)
        pruned = await prune_idempotency_keys(
            self.runtime, s.idempotency_retention_days, s.idempotency_prune_batch
        )
        if pruned:
            log.info("idempotency_keys_pruned", count=pruned)
        while await retention.erase_due(self.runtime, s):
            pass  # a batch done: there may be more
        return pruned

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("referral_maintenance_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.maintenance_interval_s)
