"""Use case: a deadline still overdue after the first reminder goes to the coordinators."""

from __future__ import annotations

import dataclasses
import uuid

from relais_contracts.catalogue import parse_cloudevent
from relais_notifications.adapters import escalations
from relais_notifications.domain.audience import COORDINATORS, Links, notice_for
from relais_notifications.service.notify import deliver
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime


async def escalate_due(runtime: ServiceRuntime, links: Links, *, batch: int = 50) -> int:
    """Tell the coordinators about every deadline whose escalation time has come.

    Claimed ``FOR UPDATE SKIP LOCKED`` and settled in one transaction: each escalation is
    sent once however many replicas run; its deliveries are keyed by a derived event id.
    """
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await escalations.claim_due(conn, batch=batch)
        for row in rows:
            # The reminder that scheduled it: deadline.overdue or followup.due.
            event = parse_cloudevent(row["event"])
            first = notice_for(event.data, links)
            notice = dataclasses.replace(
                first,
                audience=(COORDINATORS,),
                facts={**first.facts, "escalated": True},
                deadline_id=None,
            )
            tx = Tx(conn=conn, incoming=event, source=runtime.source)
            await deliver(tx, notice, event_id=uuid.uuid5(row["deadline_id"], "escalation"))
            await escalations.mark_escalated(conn, row["deadline_id"])
    return len(rows)
