"""Use case: erase the children whose referrals all ended longer ago than the PRE keeps them.

Same erasure as on ``subject.erased`` (``repository.erase_identity``: the fiche, the sealed
copy and the blind index go; the timeline stays), recorded in the access log as done by
the system. Each child is erased in its own transaction, the due list re-read each run,
so a restart or a second replica finds only what is left (relais_runtime.retention).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_referral.adapters import repository
from relais_runtime import audit, retention
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings

log = get_logger(__name__)

PURPOSE = "effacement (droit à l'effacement ou fin de la durée de conservation) : " + (
    "retention_period_ended"
)


async def erase_due(
    runtime: ServiceRuntime,
    settings: RelaisSettings,
    now: datetime | None = None,
    *,
    batch: int = 100,
) -> int:
    """Erase up to ``batch`` due children; the number erased (0: nothing left)."""
    at = now or datetime.now(UTC)
    policy = retention.RetentionPolicy.of(settings)
    async with runtime.pool.acquire() as conn:
        due = await retention.due(conn, policy, at, limit=batch)
    erased = 0
    for item in due:
        subject_id = uuid.UUID(item.record_id)
        async with runtime.pool.acquire() as conn, conn.transaction():
            # Re-checked under the lock of the child's referrals: a new referral meanwhile
            # (not ended) makes it no longer due.
            await conn.execute(
                "SELECT 1 FROM referrals WHERE pre_id = $1 AND subject_id = $2 FOR UPDATE",
                item.tenant,
                subject_id,
            )
            if not await retention.due(
                conn, policy, at, tenant=item.tenant, record_id=item.record_id
            ):
                continue
            await repository.erase_identity(conn, item.tenant, subject_id)
            await audit.record(
                conn,
                audit.Access.by(
                    audit.system_actor("referral-retention", item.tenant),
                    "erase",
                    "subject",
                    subject_id,
                    situation_id=None,
                    field_groups=("identity.child", "identity.guardians", "referrer", "reasons"),
                    purpose=PURPOSE,
                ),
            )
        erased += 1
    if erased:
        log.info("retention_erased", count=erased)
    return erased
