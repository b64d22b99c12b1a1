"""The deadline scheduler: a loop in every replica, each claiming due rows with SKIP LOCKED."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from relais_parcours.context import Parcours
from relais_parcours.service import child_texts, retention
from relais_parcours.service.consent import expire_consents
from relais_parcours.service.deadlines import fire_due_deadlines, sample_deadlines
from relais_parcours.service.family_notice_delivery import mail_due_notices
from relais_parcours.service.family_notices import announce_expiring_consents
from relais_parcours.service.open_situation import (
    backfill_identities,
    backfill_interpreter_flags,
)
from relais_runtime.background import BackgroundLoop
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime

log = get_logger(__name__)


class DeadlineScheduler(BackgroundLoop):
    task_name = "deadline-scheduler"

    def __init__(self, runtime: ServiceRuntime, ctx: Parcours) -> None:
        super().__init__()
        self.runtime = runtime
        self.ctx = ctx

    async def _run(self) -> None:
        try:
            while await backfill_identities(self.ctx.units.sweep(), self.ctx):
                pass  # identities stored as JWE by an earlier version
            while await child_texts.seal_clear_texts(self.ctx.units.sweep(), self.ctx):
                pass  # notes and override reasons written in clear before issue 15
            while await backfill_interpreter_flags(self.ctx.units.sweep(), self.ctx):
                pass  # identities stored before « interprète à prévoir » was kept
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("identity_backfill_failed", error=type(exc).__name__)
        while True:
            try:
                while await fire_due_deadlines(self.ctx.units.sweep(), self.ctx):
                    pass  # a batch done: there may be more
                while await expire_consents(self.ctx.units.sweep(), self.ctx, datetime.now(UTC)):
                    pass
                await announce_expiring_consents(self.ctx.units.sweep(), self.ctx)
                while await mail_due_notices(self.ctx):
                    pass  # a batch sent: there may be more
                while await retention.erase_due(self.runtime, self.ctx):
                    pass
                await sample_deadlines(self.ctx.units.sweep(), self.ctx)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("deadline_scheduler_failed", error=type(exc).__name__)
            await asyncio.sleep(self.ctx.settings.scheduler_interval_s)
