"""HTTP routes of the notifications service: an organisation's webhooks and its deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field, field_validator

from relais_contracts.delivery import NotificationDelivery
from relais_notifications.adapters import deliveries, subscriptions
from relais_notifications.domain.delivery import DeliveryStatus
from relais_notifications.entrypoints.http import EventTypes, Language, Page, check_types
from relais_notifications.service import manage
from relais_runtime.bodies import Body
from relais_runtime.http import CurrentPrincipal, DomainError, Limit, Offset, Principal, Runtime
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")


# --- webhooks -----------------------------------------------------------------------------


class WebhookIn(Body):
    url: str = Field(min_length=8, max_length=2000, description="Adresse https:// de réception.")
    event_types: EventTypes
    language: Language = "fr"

    _types = field_validator("event_types")(check_types)


class WebhookOut(BaseModel):
    id: uuid.UUID = Field(description="Identifiant du webhook.")
    url: str = Field(description="Adresse de réception.")
    enabled: bool = Field(description="Actif ; désactivé après trop d'échecs à la suite.")
    consecutive_failures: int = Field(description="Échecs à la suite depuis le dernier succès.")
    disabled_at: datetime | None = Field(description="Moment de la désactivation, le cas échéant.")
    created_at: datetime = Field(description="Moment de l'ajout.")


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Clé de signature (Standard Webhooks). Montrée une seule fois : gardez-la."
    )


class WebhookSecret(BaseModel):
    id: uuid.UUID
    secret: str = Field(
        description="Nouvelle clé de signature. Montrée une seule fois : gardez-la."
    )
    previous_secret_valid_until: datetime | None = Field(
        description=(
            "Jusqu'à cette date, chaque envoi est aussi signé avec l'ancienne clé "
            "(signatures multiples de Standard Webhooks) ; vide : l'ancienne ne sert plus."
        )
    )


class WebhookPage(Page):
    items: list[WebhookOut] = Field(description="Les webhooks de l'organisation.")


class AttemptOut(BaseModel):
    delivery_id: uuid.UUID = Field(description="L'envoi (en-tête `webhook-id`).")
    event_type: str = Field(description="Type CloudEvents de l'événement notifié.")
    attempt: int = Field(description="Numéro de la tentative (1 pour la première).")
    at: datetime = Field(description="Moment de la tentative.")
    http_status: int | None = Field(description="Statut HTTP reçu ; vide : pas de réponse.")
    failure: str | None = Field(description="Code de l'échec ; vide : remis.")
    duration_ms: int = Field(description="Durée de la tentative, en millisecondes.")


class AttemptPage(Page):
    items: list[AttemptOut] = Field(description="Les tentatives, les plus récentes d'abord.")


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    summary="Ajouter un webhook",
    description="Enregistre une adresse qui recevra les notifications de l'organisation, "
    "signées selon Standard Webhooks ; la clé de signature n'est montrée qu'ici.",
)
async def create_webhook(
    who: CurrentPrincipal, runtime: Runtime, body: WebhookIn
) -> WebhookCreated:
    endpoint, secret = await manage.add_webhook(
        runtime,
        who,
        url=body.url,
        event_types=body.event_types,
        language=body.language,
        allow_insecure=runtime.settings.webhook_allow_insecure,  # type: ignore[attr-defined]
    )
    return WebhookCreated(secret=secret, **_hook_fields(endpoint))


@router.get(
    "/webhooks",
    response_model=WebhookPage,
    summary="Webhooks de mon organisation",
    description="Les webhooks de l'organisation, actifs ou désactivés.",
)
async def list_webhooks(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> WebhookPage:
    async with runtime.pool.acquire() as conn:
        rows = await subscriptions.list_endpoints(conn, who.tenant, who.org, limit, offset)
    return WebhookPage(
        items=[WebhookOut(**_hook_fields(r)) for r in rows], limit=limit, offset=offset
    )


async def _own_endpoint(runtime: ServiceRuntime, who: Principal, hook_id: uuid.UUID) -> Any:
    async with runtime.pool.acquire() as conn:
        row = await subscriptions.get_endpoint(conn, who.tenant, who.org, hook_id)
    if row is None:
        raise DomainError("webhook_not_found", "Webhook introuvable.", 404)
    return row


@router.get(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    summary="Un webhook",
    description="Un webhook de l'organisation et son état.",
)
async def get_webhook(who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID) -> WebhookOut:
    return WebhookOut(**_hook_fields(await _own_endpoint(runtime, who, webhook_id)))


@router.get(
    "/webhooks/{webhook_id}/attempts",
    response_model=AttemptPage,
    summary="Journal des envois d'un webhook",
    description="Chaque tentative d'envoi à ce webhook : statut reçu, échec, durée.",
)
async def webhook_attempts(
    who: CurrentPrincipal,
    runtime: Runtime,
    webhook_id: uuid.UUID,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AttemptPage:
    await _own_endpoint(runtime, who, webhook_id)
    async with runtime.pool.acquire() as conn:
        rows = await subscriptions.list_attempts(conn, webhook_id, limit, offset)
    return AttemptPage(items=[AttemptOut(**dict(r)) for r in rows], limit=limit, offset=offset)


@router.post(
    "/webhooks/{webhook_id}/enable",
    response_model=WebhookOut,
    summary="Réactiver",
    description="Réactive un webhook désactivé après des échecs.",
)
async def enable_webhook(
    who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID
) -> WebhookOut:
    await _own_endpoint(runtime, who, webhook_id)
    async with runtime.pool.acquire() as conn:
        await subscriptions.set_enabled(conn, webhook_id, True)
    return WebhookOut(**_hook_fields(await _own_endpoint(runtime, who, webhook_id)))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Supprimer un webhook",
    description="Supprime le webhook ; ses envois en attente sont abandonnés.",
)
async def delete_webhook(who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID) -> None:
    await manage.delete_webhook(runtime, who, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/secret",
    response_model=WebhookSecret,
    summary="Changer la clé de signature d'un webhook",
    description="Donne une nouvelle clé ; l'ancienne signe encore les envois pendant le délai "
    "de grâce (`previous_secret_valid_until`).",
)
async def rotate_webhook_secret(
    who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID
) -> WebhookSecret:
    grace_h: float = runtime.settings.webhook_secret_grace_hours  # type: ignore[attr-defined]
    secret, until = await manage.rotate_webhook_secret(
        runtime, who, webhook_id, grace_s=grace_h * 3600
    )
    return WebhookSecret(id=webhook_id, secret=secret, previous_secret_valid_until=until)


def _hook_fields(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in WebhookOut.model_fields}


# --- deliveries ---------------------------------------------------------------------------


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Identifiant de l'envoi.")
    event_id: uuid.UUID = Field(description="L'événement (CloudEvent `id`) qui l'a causé.")
    event_type: str = Field(description="Type CloudEvents de l'événement.")
    channel: str = Field(description="Canal : `webhook`, `email` ou `amqp`.")
    status: str = Field(description="État de l'envoi.")
    attempts: int = Field(description="Tentatives faites.")
    last_failure: str | None = Field(description="Code du dernier échec, le cas échéant.")
    http_status: int | None = Field(description="Dernier statut HTTP reçu (webhook).")
    title: str = Field(description="Intitulé en français, sans identité d'enfant.")
    link: str = Field(description="Lien vers la ressource dans Relais.")
    created_at: datetime = Field(description="Moment de la création de l'envoi.")
    delivered_at: datetime | None = Field(description="Moment de la remise ; vide : pas encore.")


class DeliveryPage(Page):
    items: list[DeliveryOut] = Field(description="Les envois, les plus récents d'abord.")


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    summary="Envois à mon organisation",
    description="Les envois de notifications à l'organisation, sur tous ses canaux, "
    "filtrés par état si demandé.",
)
async def list_deliveries(
    who: CurrentPrincipal,
    runtime: Runtime,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    async with runtime.pool.acquire() as conn:
        rows = await deliveries.list_for_org(
            conn, who.tenant, who.org, status and status.value, limit, offset
        )
    return DeliveryPage(
        items=[DeliveryOut(**{k: r[k] for k in DeliveryOut.model_fields}) for r in rows],
        limit=limit,
        offset=offset,
    )


# -- what subscribers receive (documented, not served) ----------------------------------------


def document_deliveries(app: FastAPI) -> None:
    """The webhook POST in the OpenAPI document (``webhooks``), as subscribers receive it."""

    @app.webhooks.post(
        "notification",
        summary="Notification envoyée à un webhook abonné",
        description="POST signé selon Standard Webhooks (en-têtes `webhook-id`, "
        "`webhook-timestamp`, `webhook-signature`). Une réponse 2xx vaut remise ; toute "
        "autre réponse ou un délai dépassé est réessayé (NOTIFICATIONS_DELIVERY_BACKOFF_S) "
        "puis abandonné. Le même corps arrive sur la file AMQP `deliver.<org>` "
        "(`message_id` = `webhook-id`). Schéma publié : "
        "`docs/schemas/notification.delivery.v1.json`.",
        responses={200: {"description": "Remise acceptée (toute réponse 2xx)."}},
    )
    async def notification(body: NotificationDelivery) -> None:
        """Documentation only: Relais sends this request, it does not receive it."""
