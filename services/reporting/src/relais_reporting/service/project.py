"""Use case: record an event in the anonymous log and fold it into its fact document."""

from __future__ import annotations

import uuid
from typing import Any

from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_reporting.domain.privacy import anonymous_data
from relais_runtime.consumer import Tx


def logged(event: Any) -> facts.LoggedEvent:
    """The event as the log keeps it: a type reporting does not read keeps no payload."""
    data: dict[str, Any] = {}
    if event.type in facts.READ_TYPES:
        raw = event.data if isinstance(event.data, dict) else event.data.model_dump(mode="json")
        data = anonymous_data(raw)
    return facts.LoggedEvent(
        type=event.type,
        pre_id=event.tenant,
        subject=event.subject,
        sequence=event.sequence,
        occurred_at=event.time,
        data=data,
    )


async def record_event(tx: Tx) -> None:
    entry = logged(tx.incoming)
    if not await store.log_event(tx.conn, tx.incoming.id, entry):
        return  # already logged (and folded) under another message id's delivery
    if entry.type == facts.SUBJECT_ERASED:
        await unlink_subject(tx, entry)
        return
    target = facts.target_of(entry)
    if target is None:
        return
    doc = await store.lock_fact(tx.conn, target)
    await store.save_fact(tx.conn, target, facts.apply(doc, entry))


async def unlink_subject(tx: Tx, entry: facts.LoggedEvent) -> None:
    """A child's records were erased upstream: give its pseudonymous ids fresh random ones.

    The facts stay (figures do not change, past answers stay true), but nothing in
    reporting can be joined any more to an id another service once held for the child:
    subject, situations, referrals and their handovers all get new random ids, in the log
    and in the documents alike, so a rebuild still gives the live figures.
    """
    data = entry.data
    situations = [str(s) for s in data.get("situation_ids", [])]
    old = [
        str(data["subject_id"]),
        *situations,
        *(str(r) for r in data.get("referral_ids", [])),
        *await store.handovers_of(tx.conn, entry.pre_id, situations),
    ]
    rewritten = await store.replace_ids(tx.conn, entry.pre_id, {o: str(uuid.uuid4()) for o in old})
    for target, doc in facts.fold_all(rewritten).items():
        await store.save_fact(tx.conn, target, doc)
