"""Use case: erase the children whose retention period after the last contact has ended.

Runs from the scheduler of every replica; each due child goes through ``erasure.erase``,
the path of a manual erasure (key deleted, texts cleared, handovers cancelled,
``subject.erased`` to the other services), recorded in the access log as done by the
system. A child another replica erased meanwhile answers ``already_erased`` and is skipped:
each is erased once, and a restart picks up what is left (relais_runtime.retention).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts.types import ErasureReason
from relais_parcours.context import Parcours
from relais_parcours.service import erasure
from relais_runtime import audit, retention
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime

log = get_logger(__name__)


async def erase_due(
    runtime: ServiceRuntime, ctx: Parcours, now: datetime | None = None, *, batch: int = 100
) -> int:
    """Erase up to ``batch`` due children; the number erased (0: nothing left). They are
    found in a sweep across PREs (``ctx.units``); each erasure is scoped to its PRE."""
    at = now or datetime.now(UTC)
    async with ctx.units.sweep()() as uow:
        due = await retention.due(
            uow.conn, retention.RetentionPolicy.of(ctx.settings), at, limit=batch
        )
    erased = 0
    for item in due:
        try:
            await erasure.erase(
                ctx.units.scoped(item.tenant),
                runtime,
                audit.system_actor("parcours-retention", item.tenant),
                uuid.UUID(item.record_id),
                ErasureReason.RETENTION_PERIOD_ENDED,
            )
        except DomainError as exc:
            if exc.code != "already_erased":  # erased by another replica meanwhile: done
                # Never stop the loop for one child; it stays due and is tried again.
                log.warning("retention_erasure_refused", code=exc.code, situation=item.record_id)
            continue
        erased += 1
    if erased:
        log.info("retention_erased", count=erased)
    return erased
