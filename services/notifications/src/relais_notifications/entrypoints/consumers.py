"""Subscribers of the notifications service."""

from __future__ import annotations

from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_contracts.v1.parcours import SituationOpened
from relais_contracts.v1.referral import ReferralStatusChanged
from relais_notifications.config import NotificationsSettings
from relais_notifications.domain import messages
from relais_notifications.service.notify import post_to_feed
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "notifications.events"


def register(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    consumer = runtime.consumer(EVENTS_QUEUE)

    @consumer.handles(ReferralStatusChanged)
    async def on_referral_status_changed(event: CloudEvent[Any], tx: Tx) -> None:
        data: ReferralStatusChanged = event.data
        entry = messages.referral_status_entry(
            data.institution_id, data.referral_id, data.status, settings.referral_url
        )
        await post_to_feed(tx, entry)

    @consumer.handles(SituationOpened)
    async def on_situation_opened(event: CloudEvent[Any], tx: Tx) -> None:
        data: SituationOpened = event.data
        await post_to_feed(
            tx, messages.situation_opened_entry(data.situation_id, settings.parcours_url)
        )
