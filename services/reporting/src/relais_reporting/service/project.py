"""Use case: record an event in the anonymous log and fold it into its fact document."""

from __future__ import annotations

from typing import Any

from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_reporting.domain.privacy import anonymous_data
from relais_runtime.consumer import Tx


def logged(event: Any) -> facts.LoggedEvent:
    data = event.data if isinstance(event.data, dict) else event.data.model_dump(mode="json")
    return facts.LoggedEvent(
        type=event.type,
        pre_id=event.tenant,
        subject=event.subject,
        sequence=event.sequence,
        occurred_at=event.time,
        data=anonymous_data(data),
    )


async def record_event(tx: Tx) -> None:
    entry = logged(tx.incoming)
    if not await store.log_event(tx.conn, tx.incoming.id, entry):
        return  # already logged (and folded) under another message id's delivery
    target = facts.target_of(entry)
    if target is None:
        return
    doc = await store.lock_fact(tx.conn, target)
    await store.save_fact(tx.conn, target, facts.apply(doc, entry))
