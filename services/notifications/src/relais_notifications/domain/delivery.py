"""What a subscription makes of a notice, and how failed attempts are retried. No I/O."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from relais_contracts.topology import delivery_queue
from relais_contracts.types import DeliveryFailure
from relais_notifications.domain.audience import Notice
from relais_notifications.domain.texts import Text

#: Channels a subscription can ask for; the feed needs none (everyone has one).
SUBSCRIBABLE_CHANNELS = ("email", "webhook", "amqp")


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    org_id: str
    user_id: str | None
    channel: str
    language: str
    email: str | None
    webhook_id: uuid.UUID | None
    digest: bool

    @property
    def recipient(self) -> str:
        return f"user:{self.user_id}" if self.user_id else f"org:{self.org_id}"

    @property
    def destination(self) -> str:
        if self.channel == "email":
            return f"mailto:{self.email}"
        if self.channel == "webhook":
            return f"webhook:{self.webhook_id}"
        return f"amqp:{delivery_queue(self.org_id)}"


def payload(
    *,
    notification_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    tenant: str,
    occurred_at: datetime,
    notice: Notice,
    text: Text,
) -> dict[str, Any]:
    """The JSON body of a webhook or AMQP delivery (Standard Webhooks shape).

    Ids, codes, dates, a reference, a title and a link: nothing a child could be recognised by.
    """
    return {
        "type": event_type,
        "timestamp": occurred_at.isoformat(),
        "data": {
            "notification_id": str(notification_id),
            "event_id": str(event_id),
            "pre_id": tenant,
            "reference": notice.facts.get("ref"),
            "title": text.title,
            "link": notice.link or None,  # none when nothing exists to link to
            "facts": json.loads(json.dumps(notice.facts, default=str)),
        },
    }


def retry_delay(attempts: int, backoff_s: Sequence[float]) -> float | None:
    """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
    if attempts > len(backoff_s):
        return None
    return float(backoff_s[attempts - 1])


#: Failures a later attempt cannot fix: give up at once.
FINAL_FAILURES = frozenset(
    {
        DeliveryFailure.REJECTED,
        DeliveryFailure.INVALID_ENDPOINT,
        DeliveryFailure.ENDPOINT_DISABLED,
        DeliveryFailure.ENDPOINT_DELETED,
    }
)


def digest_cutoff(now: datetime, timezone: str, hour: int) -> datetime:
    """The latest digest time at or before ``now``: ``hour`` o'clock in the PRE's time zone.

    Everything held before it goes out in that digest; later items wait for the next one.
    """
    local = now.astimezone(ZoneInfo(timezone))
    moment = datetime.combine(local.date(), time(hour), tzinfo=local.tzinfo)
    if moment > local:
        moment = datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=local.tzinfo)
    return moment


def webhook_disabled_title(failures: int) -> str:
    """What the owner reads in its feed when its endpoint is disabled (French plural)."""
    attempts = "1 échec successif" if failures == 1 else f"{failures} échecs successifs"
    return (
        f"Webhook désactivé après {attempts} : vérifiez votre point de réception puis réactivez-le."
    )


class DeliveryStatus(StrEnum):
    """Les états d'un envoi (ceux qu'admet la table)."""

    # Every status a delivery row can have (the table's CHECK constraint); the docstring is
    # the OpenAPI description, in French for the people who read it.

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DIGESTED = "digested"  # held for a daily digest
    IN_DIGEST = "in_digest"  # gathered into a digest delivery
