"""What a subscriber receives: the body of a webhook POST and of a message on ``deliver.<org>``.

Not a CloudEvent on the bus but what notifications hands to an institution or a partner
(Standard Webhooks shape: ``type``, ``timestamp``, ``data``; the delivery id travels in the
``webhook-id`` header or as the AMQP ``message_id``). Ids, codes, dates, a reference, a
title and a link: nothing a child could be recognised by. Published as
``docs/schemas/notification.delivery.v1.json``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from pydantic import ConfigDict, Field

from relais_contracts.base import SCHEMA_BASE_URL, Strict

DELIVERY_SCHEMA_FILE: Final = "notification.delivery.v1.json"
DELIVERY_SCHEMA_ID: Final = f"{SCHEMA_BASE_URL}/{DELIVERY_SCHEMA_FILE}"


class DeliveredNotice(Strict):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    notification_id: uuid.UUID = Field(description="Identifiant de la notification.")
    event_id: uuid.UUID = Field(description="L'événement (CloudEvent `id`) qui l'a causée.")
    tenant: str = Field(description="Le PRE concerné.", alias="pre_id")
    reference: str | None = Field(
        description="Référence du dossier chez l'émetteur (`facts.ref`), si elle existe."
    )
    title: str = Field(description="Intitulé en français, sans identité.")
    link: str | None = Field(description="Lien vers la ressource dans Relais, s'il en existe un.")
    facts: dict[str, Any] = Field(
        description="Faits de l'événement utiles au destinataire : identifiants, codes, dates."
    )


class NotificationDelivery(Strict):
    """Corps d'un webhook (POST signé Standard Webhooks) ou d'un message sur `deliver.<org>`."""

    type: str = Field(
        description="Type CloudEvents de l'événement notifié.",
        examples=["fr.relais.referral.status_changed.v1"],
    )
    timestamp: datetime = Field(description="Moment de l'événement (ISO 8601).")
    data: DeliveredNotice
