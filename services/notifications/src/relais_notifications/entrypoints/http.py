"""HTTP routes of the notifications service: the feed (with its live stream) and subscriptions.

Webhooks and deliveries are in ``http_webhooks``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from sse_starlette.sse import EventSourceResponse

from relais_notifications.adapters import feed, subscriptions
from relais_notifications.domain.audience import RULES
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
    id: uuid.UUID = Field(description="Identifiant de la notification.")
    kind: str = Field(description="Type CloudEvents de l'événement qui l'a causée.")
    title: str = Field(description="Intitulé en français, sans identité d'enfant.")
    link: str = Field(description="Lien vers la ressource dans Relais.")
    created_at: datetime = Field(description="Moment de la notification.")
    read_at: datetime | None = Field(description="Moment où vous l'avez lue ; vide : non lue.")


class FeedPage(BaseModel):
    items: list[FeedItem] = Field(description="Les notifications, les plus récentes d'abord.")
    unread: int = Field(description="Nombre de notifications non lues.")
    limit: int = Field(description="Taille de page demandée.")
    offset: int = Field(description="Décalage demandé.")


class MarkRead(Body):
    ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=500,
        description="Notifications à marquer comme lues ; absent : toutes.",
    )


class ReadResult(BaseModel):
    marked: int = Field(description="Nombre de notifications marquées comme lues.")
    unread: int = Field(description="Nombre de notifications encore non lues.")


@router.get(
    "/feed",
    response_model=FeedPage,
    summary="Fil de notifications",
    description="Les notifications de la personne, de son organisation et de ses rôles, "
    "dans son PRE, avec le nombre de non-lues.",
)
async def get_feed(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> FeedPage:
    targets = recipients(who)
    async with runtime.pool.acquire() as conn:
        rows = await feed.list_items(conn, who.tenant, targets, who.sub, limit, offset)
        unread = await feed.unread_count(conn, who.tenant, targets, who.sub)
    return FeedPage(
        items=[FeedItem(**dict(r)) for r in rows], unread=unread, limit=limit, offset=offset
    )


@router.post(
    "/feed/read",
    response_model=ReadResult,
    summary="Marquer comme lu",
    description="Marque comme lues les notifications indiquées, ou toutes.",
)
async def mark_feed_read(who: CurrentPrincipal, runtime: Runtime, body: MarkRead) -> ReadResult:
    targets = recipients(who)
    async with runtime.pool.acquire() as conn:
        marked = await feed.mark_read(conn, who.tenant, targets, who.sub, body.ids)
        unread = await feed.unread_count(conn, who.tenant, targets, who.sub)
    return ReadResult(marked=marked, unread=unread)


@router.get(
    "/feed/stream",
    summary="Fil de notifications en direct (Server-Sent Events)",
    description="Envoie aussitôt `event: unread`, puis `event: item` pour chaque nouvelle "
    "notification et le nouveau nombre de non-lues. `Last-Event-ID` reprend après la "
    "dernière notification reçue.",
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
    # The route's description (above) is what OpenAPI shows, in French.
    hub: FeedHub = request.app.state.feed_hub
    targets = recipients(who)
    resume = request.headers.get("last-event-id", "").strip()

    async def events() -> AsyncIterator[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            cursor = await _resume_cursor(conn, who.tenant, resume)
            unread = await feed.unread_count(conn, who.tenant, targets, who.sub)
        yield {"event": "unread", "data": json.dumps({"unread": unread})}
        while True:
            # Armed before reading: an item committed after this read's snapshot notifies
            # this wake-up, even if the notification comes before the wait below.
            wake = hub.arm(who.tenant)
            async with runtime.pool.acquire() as conn:
                rows, waiting = await feed.items_since(conn, who.tenant, targets, cursor)
                if rows:
                    unread = await feed.unread_count(conn, who.tenant, targets, who.sub)
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


async def _resume_cursor(conn: Conn, tenant: str, last_event_id: str) -> feed.Cursor:
    """``<txid>-<position>`` as sent in ``id:``; a bare position is an id sent before the
    stream followed transactions; anything else starts from now."""
    txid, dash, position = last_event_id.partition("-")
    if dash and _counter(txid) and _counter(position):
        return (int(txid), int(position))
    if _counter(last_event_id):
        known = await feed.cursor_of_position(conn, tenant, int(last_event_id))
        if known is not None:
            return known
    return await feed.stream_start(conn)


# --- subscriptions ------------------------------------------------------------------------


def check_types(values: list[str]) -> list[str]:
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
    channel: Literal["email", "amqp"] = Field(
        description="Canal : `email`, ou `amqp` (la file `deliver.<organisation>`)."
    )
    personal: bool = Field(
        default=False, description="Pour soi seulement ; sinon pour toute l'organisation."
    )
    event_types: EventTypes
    situation_id: uuid.UUID | None = Field(
        default=None, description="Seulement ce qui concerne cette situation."
    )
    referent_id: uuid.UUID | None = Field(
        default=None, description="Seulement les situations de ce ou cette référent·e."
    )
    language: Language = "fr"
    email: str | None = Field(
        default=None, max_length=254, description="Adresse à prévenir (canal `email`)."
    )
    digest: bool = Field(default=False, description="E-mail : un récapitulatif quotidien.")

    _types = field_validator("event_types")(check_types)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or " " in value or "\n" in value):
            raise PydanticCustomError("email_invalid", "L'adresse e-mail n'est pas valide.")
        return value


class SubscriptionOut(BaseModel):
    id: uuid.UUID = Field(description="Identifiant de l'abonnement.")
    org_id: str = Field(description="Organisation abonnée.")
    personal: bool = Field(description="Pour la personne seulement, ou pour l'organisation.")
    channel: str = Field(description="Canal : `email`, `amqp` ou `webhook`.")
    event_types: list[str] = Field(description="Types CloudEvents ; vide : tous.")
    situation_id: uuid.UUID | None = Field(description="Situation suivie, le cas échéant.")
    referent_id: uuid.UUID | None = Field(description="Référent·e suivi·e, le cas échéant.")
    language: str = Field(description="Langue des messages.")
    email: str | None = Field(description="Adresse prévenue (canal `email`).")
    webhook_id: uuid.UUID | None = Field(description="Webhook qui reçoit (canal `webhook`).")
    digest: bool = Field(description="Un récapitulatif quotidien au lieu d'un e-mail par envoi.")
    created_at: datetime = Field(description="Moment de l'abonnement.")

    @classmethod
    def of(cls, row: Any) -> SubscriptionOut:
        return cls(
            personal=row["user_id"] is not None,
            **{k: row[k] for k in cls.model_fields if k != "personal"},
        )


class Page(BaseModel):
    """A page of a list; each subclass says what its ``items`` are (same field order)."""

    items: list[Any]
    limit: int = Field(description="Taille de page demandée.")
    offset: int = Field(description="Décalage demandé.")


class SubscriptionPage(Page):
    items: list[SubscriptionOut] = Field(description="Les abonnements.")


@router.post(
    "/subscriptions",
    response_model=SubscriptionOut,
    status_code=201,
    summary="S'abonner",
    description="Abonne la personne, ou son organisation, aux notifications d'un canal.",
)
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


@router.get(
    "/subscriptions",
    response_model=SubscriptionPage,
    summary="Mes abonnements",
    description="Les abonnements de la personne et ceux de son organisation.",
)
async def list_subscriptions(
    who: CurrentPrincipal, runtime: Runtime, limit: Limit = 50, offset: Offset = 0
) -> SubscriptionPage:
    async with runtime.pool.acquire() as conn:
        rows = await subscriptions.list_subscriptions(
            conn, who.tenant, who.org, who.sub, limit, offset
        )
    return SubscriptionPage(items=[SubscriptionOut.of(r) for r in rows], limit=limit, offset=offset)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Se désabonner",
    description="Supprime un abonnement de la personne ou de son organisation.",
)
async def delete_subscription(
    who: CurrentPrincipal, runtime: Runtime, subscription_id: uuid.UUID
) -> None:
    async with runtime.pool.acquire() as conn:
        row = await subscriptions.get_subscription(conn, who.tenant, subscription_id)
        if row is None or row["org_id"] != who.org or row["user_id"] not in (None, who.sub):
            raise DomainError("subscription_not_found", "Abonnement introuvable.", 404)
        await subscriptions.delete_subscription(conn, who.tenant, subscription_id)
