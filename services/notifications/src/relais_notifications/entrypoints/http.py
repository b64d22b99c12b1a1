"""HTTP routes of the notifications service: feed (with live stream), subscriptions, webhooks."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from sse_starlette.sse import EventSourceResponse

from relais_contracts.delivery import NotificationDelivery
from relais_notifications.adapters import deliveries, feed, subscriptions
from relais_notifications.domain.audience import RULES
from relais_notifications.domain.delivery import DeliveryStatus
from relais_notifications.service import manage
from relais_notifications.service.live import FeedHub
from relais_runtime.bodies import Body
from relais_runtime.db import Conn
from relais_runtime.http import (
    CurrentPrincipal,
    DomainError,
    Limit,
    Offset,
    Principal,
    Runtime,
    text_response,
)
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")


#: The CloudEvents types one can subscribe to: those this service notifies about.
NOTIFIED_TYPES = frozenset(model.ce_type() for model in RULES)


def recipients(who: Principal) -> list[str]:
    """What a user's feed gathers: its own items, its organisation's and its roles'."""
    return [
        f"user:{who.sub}",
        f"org:{who.org}",
        *(f"role:{role}" for role in sorted(who.roles)),
    ]


# --- feed ---------------------------------------------------------------------------------


class FeedItem(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    link: str
    created_at: datetime
    read_at: datetime | None


class FeedPage(BaseModel):
    items: list[FeedItem]
    unread: int
    limit: int
    offset: int


class MarkRead(Body):
    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=500, description="Items to mark read; absent: all."
    )


class ReadResult(BaseModel):
    marked: int
    unread: int


@router.get("/feed", response_model=FeedPage, summary="Fil de notifications")
async def get_feed(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> FeedPage:
    targets = recipients(who)
    async with runtime.pool.acquire() as conn:
        rows = await feed.list_items(conn, who.pre, targets, who.sub, limit, offset)
        unread = await feed.unread_count(conn, who.pre, targets, who.sub)
    return FeedPage(
        items=[FeedItem(**dict(r)) for r in rows], unread=unread, limit=limit, offset=offset
    )


@router.post("/feed/read", response_model=ReadResult, summary="Marquer comme lu")
async def mark_feed_read(who: CurrentPrincipal, runtime: Runtime, body: MarkRead) -> ReadResult:
    targets = recipients(who)
    async with runtime.pool.acquire() as conn:
        marked = await feed.mark_read(conn, who.pre, targets, who.sub, body.ids)
        unread = await feed.unread_count(conn, who.pre, targets, who.sub)
    return ReadResult(marked=marked, unread=unread)


@router.get(
    "/feed/stream",
    summary="Fil de notifications en direct (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses=text_response(
        "text/event-stream",
        "Flux Server-Sent Events : `event: unread` (nombre de non-lus), puis `event: item` "
        "(une notification, `id` reprend avec `Last-Event-ID`).",
    ),
)
async def stream_feed(
    who: CurrentPrincipal, runtime: Runtime, request: Request
) -> EventSourceResponse:
    """Sends ``event: unread`` at once, then ``event: item`` for each new item and the new
    unread count. ``Last-Event-ID`` resumes after the last item received."""
    hub: FeedHub = request.app.state.feed_hub
    targets = recipients(who)
    resume = request.headers.get("last-event-id", "").strip()

    async def events() -> AsyncIterator[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            cursor = await _resume_cursor(conn, who.pre, resume)
            unread = await feed.unread_count(conn, who.pre, targets, who.sub)
        yield {"event": "unread", "data": json.dumps({"unread": unread})}
        while True:
            # Armed before reading: an item committed after this read's snapshot notifies
            # this wake-up, even if the notification comes before the wait below.
            wake = hub.arm(who.pre)
            async with runtime.pool.acquire() as conn:
                rows, waiting = await feed.items_since(conn, who.pre, targets, cursor)
                if rows:
                    unread = await feed.unread_count(conn, who.pre, targets, who.sub)
            for row in rows:
                cursor = (row["txid"], row["position"])
                item = FeedItem(**{k: row[k] for k in FeedItem.model_fields})
                yield {
                    "event": "item",
                    "id": f"{cursor[0]}-{cursor[1]}",
                    "data": item.model_dump_json(),
                }
            if rows:
                yield {"event": "unread", "data": json.dumps({"unread": unread})}
            # Committed items held behind an older open transaction: look again soon (that
            # transaction may write no feed item, so no notification would come).
            await hub.wait(wake, within_s=0.2 if waiting else 15.0)

    return EventSourceResponse(events(), ping=15)


def _counter(text: str) -> bool:
    # ASCII digits that fit a bigint: str.isdigit() also takes "²" (int() refuses it) and
    # any length (PostgreSQL refuses it), both failing the stream.
    return re.fullmatch(r"[0-9]{1,18}", text) is not None


async def _resume_cursor(conn: Conn, pre_id: str, last_event_id: str) -> feed.Cursor:
    """``<txid>-<position>`` as sent in ``id:``; a bare position is an id sent before the
    stream followed transactions; anything else starts from now."""
    txid, dash, position = last_event_id.partition("-")
    if dash and _counter(txid) and _counter(position):
        return (int(txid), int(position))
    if _counter(last_event_id):
        known = await feed.cursor_of_position(conn, pre_id, int(last_event_id))
        if known is not None:
            return known
    return await feed.stream_start(conn)


# --- subscriptions ------------------------------------------------------------------------


def _check_types(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - NOTIFIED_TYPES)
    if unknown:
        raise PydanticCustomError(
            "unknown_event_type",
            "Type d'événement inconnu. Valeurs possibles : {allowed}.",
            {"allowed": ", ".join(sorted(NOTIFIED_TYPES))},
        )
    return sorted(set(values))


Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="Langue des messages.")]
EventTypes = Annotated[
    list[str],
    Field(
        default_factory=list,
        max_length=50,
        description="Types CloudEvents ; vide : tout ce qui concerne l'abonné.",
    ),
]


class SubscriptionIn(Body):
    channel: Literal["email", "amqp"]
    personal: bool = Field(
        default=False, description="Pour soi seulement ; sinon pour toute l'organisation."
    )
    event_types: EventTypes
    situation_id: uuid.UUID | None = None
    referent_id: uuid.UUID | None = None
    language: Language = "fr"
    email: str | None = Field(default=None, max_length=254)
    digest: bool = Field(default=False, description="E-mail : un récapitulatif quotidien.")

    _types = field_validator("event_types")(_check_types)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or " " in value or "\n" in value):
            raise PydanticCustomError("email_invalid", "L'adresse e-mail n'est pas valide.")
        return value


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    org_id: str
    personal: bool
    channel: str
    event_types: list[str]
    situation_id: uuid.UUID | None
    referent_id: uuid.UUID | None
    language: str
    email: str | None
    webhook_id: uuid.UUID | None
    digest: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> SubscriptionOut:
        return cls(
            personal=row["user_id"] is not None,
            **{k: row[k] for k in cls.model_fields if k != "personal"},
        )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut]
    limit: int
    offset: int


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201, summary="S'abonner")
async def create_subscription(
    who: CurrentPrincipal, runtime: Runtime, body: SubscriptionIn
) -> SubscriptionOut:
    if body.channel == "email" and body.email is None:
        raise DomainError("email_required", "Indiquez l'adresse e-mail à prévenir.", 422)
    if body.channel != "email" and (body.email is not None or body.digest):
        raise DomainError(
            "email_only", "L'adresse e-mail et le récapitulatif valent pour l'e-mail.", 422
        )
    row = await manage.subscribe(
        runtime,
        who,
        personal=body.personal,
        channel=body.channel,
        event_types=body.event_types,
        situation_id=body.situation_id,
        referent_id=body.referent_id,
        language=body.language,
        email=body.email,
        digest=body.digest,
    )
    return SubscriptionOut.of(row)


@router.get("/subscriptions", response_model=SubscriptionPage, summary="Mes abonnements")
async def list_subscriptions(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> SubscriptionPage:
    async with runtime.pool.acquire() as conn:
        rows = await subscriptions.list_subscriptions(
            conn, who.pre, who.org, who.sub, limit, offset
        )
    return SubscriptionPage(items=[SubscriptionOut.of(r) for r in rows], limit=limit, offset=offset)


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Se désabonner")
async def delete_subscription(
    who: CurrentPrincipal, runtime: Runtime, subscription_id: uuid.UUID
) -> None:
    async with runtime.pool.acquire() as conn:
        row = await subscriptions.get_subscription(conn, who.pre, subscription_id)
        if row is None or row["org_id"] != who.org or row["user_id"] not in (None, who.sub):
            raise DomainError("subscription_not_found", "Abonnement introuvable.", 404)
        await subscriptions.delete_subscription(conn, who.pre, subscription_id)


# --- webhooks -----------------------------------------------------------------------------


class WebhookIn(Body):
    url: str = Field(min_length=8, max_length=2000, description="Adresse https:// de réception.")
    event_types: EventTypes
    language: Language = "fr"

    _types = field_validator("event_types")(_check_types)


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    enabled: bool
    consecutive_failures: int
    disabled_at: datetime | None
    created_at: datetime


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


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    limit: int
    offset: int


class AttemptOut(BaseModel):
    delivery_id: uuid.UUID
    event_type: str
    attempt: int
    at: datetime
    http_status: int | None
    failure: str | None
    duration_ms: int


class AttemptPage(BaseModel):
    items: list[AttemptOut]
    limit: int
    offset: int


@router.post(
    "/webhooks", response_model=WebhookCreated, status_code=201, summary="Ajouter un webhook"
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


@router.get("/webhooks", response_model=WebhookPage, summary="Webhooks de mon organisation")
async def list_webhooks(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> WebhookPage:
    async with runtime.pool.acquire() as conn:
        rows = await subscriptions.list_endpoints(conn, who.pre, who.org, limit, offset)
    return WebhookPage(
        items=[WebhookOut(**_hook_fields(r)) for r in rows], limit=limit, offset=offset
    )


async def _own_endpoint(runtime: ServiceRuntime, who: Principal, hook_id: uuid.UUID) -> Any:
    async with runtime.pool.acquire() as conn:
        row = await subscriptions.get_endpoint(conn, who.pre, who.org, hook_id)
    if row is None:
        raise DomainError("webhook_not_found", "Webhook introuvable.", 404)
    return row


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="Un webhook")
async def get_webhook(who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID) -> WebhookOut:
    return WebhookOut(**_hook_fields(await _own_endpoint(runtime, who, webhook_id)))


@router.get(
    "/webhooks/{webhook_id}/attempts",
    response_model=AttemptPage,
    summary="Journal des envois d'un webhook",
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


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut, summary="Réactiver")
async def enable_webhook(
    who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID
) -> WebhookOut:
    await _own_endpoint(runtime, who, webhook_id)
    async with runtime.pool.acquire() as conn:
        await subscriptions.set_enabled(conn, webhook_id, True)
    return WebhookOut(**_hook_fields(await _own_endpoint(runtime, who, webhook_id)))


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Supprimer un webhook")
async def delete_webhook(who: CurrentPrincipal, runtime: Runtime, webhook_id: uuid.UUID) -> None:
    await manage.delete_webhook(runtime, who, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/secret",
    response_model=WebhookSecret,
    summary="Changer la clé de signature d'un webhook",
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
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    channel: str
    status: str
    attempts: int
    last_failure: str | None
    http_status: int | None
    title: str
    link: str
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    limit: int
    offset: int


@router.get("/deliveries", response_model=DeliveryPage, summary="Envois à mon organisation")
async def list_deliveries(
    who: CurrentPrincipal,
    runtime: Runtime,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    async with runtime.pool.acquire() as conn:
        rows = await deliveries.list_for_org(
            conn, who.pre, who.org, status and status.value, limit, offset
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
