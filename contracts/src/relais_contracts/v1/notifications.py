"""v1 events of the notifications domain: the outcome of each delivery to an organisation.

They name the recipient organisation and the channel, never the address, the webhook URL
or the remote error text (which could echo anything back).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import AwareDatetime, ConfigDict, Field

from relais_contracts.base import Event
from relais_contracts.types import CeType, DeliveryChannel, DeliveryFailure, Slug


class _DeliveryEvent(Event):
    """Fields every delivery event carries: what was sent, to whom, why, and how."""

    subject_field: ClassVar[str | None] = "notification_id"

    notification_id: uuid.UUID = Field(description="The notification (one per recipient).")
    channel: DeliveryChannel = Field(description="How the organisation is reached.")
    recipient_org_id: Slug = Field(description="The organisation notified.")
    recipient_user_id: uuid.UUID | None = Field(
        default=None, description="The staff user notified, for personal notifications."
    )
    subscription_id: uuid.UUID | None = Field(
        default=None, description="The subscription that asked for it, if any."
    )
    cause_event_id: uuid.UUID = Field(description="Id of the event that caused the notification.")
    cause_type: CeType = Field(description="CloudEvents type of that event.")
    attempts: int = Field(ge=1, le=1000, description="Delivery attempts so far, this one included.")


_EXAMPLE = {
    "notification_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "recipient_org_id": "cmpp-rouen-rive-gauche",
    "cause_event_id": "1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b",
    "cause_type": "fr.relais.handover.requested.v1",
}


class NotificationDelivered(_DeliveryEvent):
    """A notification reached its recipient's channel.

    Reached means: accepted by the mail relay, answered 2xx by the webhook, written to the
    feed, or confirmed by the broker for the organisation's AMQP queue.
    """

    message_type: ClassVar[str] = "notification.delivered"

    delivered_at: AwareDatetime = Field(description="When the channel accepted it.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "channel": "webhook",
                    "subscription_id": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
                    "attempts": 1,
                    "delivered_at": "2026-11-04T15:30:04Z",
                }
            ]
        }
    )


class NotificationFailed(_DeliveryEvent):
    """A delivery attempt failed; ``will_retry`` tells whether it was the last one."""

    message_type: ClassVar[str] = "notification.failed"

    failure: DeliveryFailure = Field(description="Why the attempt failed (a code).")
    http_status: int | None = Field(
        default=None, ge=100, le=599, description="Status answered by a webhook endpoint."
    )
    will_retry: bool = Field(description="False when delivery was given up.")
    failed_at: AwareDatetime = Field(description="When the attempt failed.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "channel": "webhook",
                    "attempts": 3,
                    "failure": "http_error",
                    "http_status": 503,
                    "will_retry": True,
                    "failed_at": "2026-11-04T15:42:00Z",
                }
            ]
        }
    )
