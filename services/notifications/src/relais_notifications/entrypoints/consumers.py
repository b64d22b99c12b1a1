"""Subscribers of the notifications service: every type bound to ``notifications.events``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_contracts.v1.parcours import FollowupRecorded, ReferentRegistered, SubjectErased
from relais_notifications.config import NotificationsSettings
from relais_notifications.domain.audience import RULES, Links
from relais_notifications.service.notify import (
    erase_subject,
    notify,
    record_followup,
    register_login,
)
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "notifications.events"

#: Bound types that tell no one but change what this service holds.
SILENT_TYPES: tuple[type[Message], ...] = (FollowupRecorded, ReferentRegistered, SubjectErased)


def register(runtime: ServiceRuntime, settings: NotificationsSettings, links: Links) -> None:
    consumer = runtime.consumer(EVENTS_QUEUE)
    escalate_after = timedelta(hours=settings.escalate_after_hours)

    async def on_event(event: CloudEvent[Any], tx: Tx) -> None:
        await notify(tx, event.data, links, escalate_after=escalate_after)

    # One rule per type in domain.audience.RULES, plus SILENT_TYPES; a type bound to the
    # queue without a handler would be parked as unknown_type (a test checks every one).
    for model in RULES:
        consumer.handles(model)(on_event)

    @consumer.handles(FollowupRecorded)
    async def on_followup_recorded(event: CloudEvent[Any], tx: Tx) -> None:
        await record_followup(tx, event.data)

    @consumer.handles(ReferentRegistered)
    async def on_referent_registered(event: CloudEvent[Any], tx: Tx) -> None:
        await register_login(tx, event.data)

    @consumer.handles(SubjectErased)
    async def on_subject_erased(event: CloudEvent[Any], tx: Tx) -> None:
        await erase_subject(tx, event.data)
        await runtime.purge_parked_after_erasure(event.data)
