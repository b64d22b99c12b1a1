"""Subscribers of the notifications service: every type bound to ``notifications.events``.

Consumed in batches (docs/decisions/0021): the messages delivered together share one
transaction, and the events that tell someone share each statement (``notify_all``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from relais_contracts.base import Message
from relais_contracts.v1.parcours import FollowupRecorded, ReferentRegistered, SubjectErased
from relais_notifications.config import NotificationsSettings
from relais_notifications.domain.audience import RULES, Links
from relais_notifications.service.notify import (
    Told,
    erase_subject,
    notify_all,
    record_followup,
    register_login,
)
from relais_runtime.consumer import BatchHandler, Tx, typed
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "notifications.events"

#: Bound types that tell no one but change what this service holds.
SILENT_TYPES: tuple[type[Message], ...] = (FollowupRecorded, ReferentRegistered, SubjectErased)

_MODELS: dict[str, type[Message]] = {m.ce_type(): m for m in [*RULES, *SILENT_TYPES]}


def register(runtime: ServiceRuntime, settings: NotificationsSettings, links: Links) -> None:
    escalate_after = timedelta(hours=settings.escalate_after_hours)
    runtime.consumer(EVENTS_QUEUE).handles_batches(
        batch_handler(runtime, links, escalate_after=escalate_after)
    )


def batch_handler(
    runtime: ServiceRuntime, links: Links, *, escalate_after: timedelta
) -> BatchHandler:
    """What a batch of messages does, in one transaction: each its effect alone, in order."""

    async def on_events(txs: Sequence[Tx]) -> None:
        # Events that tell someone are gathered and told together; a silent type changes
        # what later ones read (a login, an erasure), so the run before it is told first.
        run: list[Told] = []
        for tx in txs:
            data = typed(tx, _MODELS)
            if type(data) in RULES:
                run.append(Told(tx, data))
                continue
            await notify_all(run, links, escalate_after=escalate_after)
            run = []
            if isinstance(data, FollowupRecorded):
                await record_followup(tx, data)
            elif isinstance(data, ReferentRegistered):
                await register_login(tx, data)
            elif isinstance(data, SubjectErased):
                await erase_subject(tx, data)
                await runtime.purge_parked_after_erasure(data)
        await notify_all(run, links, escalate_after=escalate_after)

    return on_events
