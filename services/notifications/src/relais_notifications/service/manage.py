"""Use cases behind the subscription and webhook API (one transaction each)."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg

from relais_contracts.topology import delivery_queue
from relais_notifications.adapters import subscriptions
from relais_notifications.adapters.channels import DELIVER_EXCHANGE
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

STAFF_ROLES = frozenset({"coordinator", "referent", "admin"})


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_webhook_url(url: str, *, allow_insecure: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DomainError("webhook_url_invalid", "L'adresse du webhook n'est pas valide.", 422)
    if allow_insecure:
        return
    if parts.scheme != "https":
        raise DomainError(
            "webhook_url_not_https", "L'adresse du webhook doit commencer par https://.", 422
        )
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if address.is_private or address.is_loopback or address.is_link_local:
        raise DomainError(
            "webhook_url_private",
            "L'adresse du webhook doit être joignable depuis Internet (pas d'adresse privée).",
            422,
        )


async def subscribe(
    runtime: ServiceRuntime,
    who: Principal,
    *,
    personal: bool,
    channel: str,
    event_types: list[str],
    situation_id: uuid.UUID | None,
    referent_id: uuid.UUID | None,
    language: str,
    email: str | None,
    digest: bool,
    webhook_id: uuid.UUID | None = None,
) -> asyncpg.Record:
    if (situation_id or referent_id) and who.roles.isdisjoint(STAFF_ROLES):
        raise DomainError(
            "filter_forbidden",
            "Seule l'équipe du PRE peut suivre une situation ou un·e référent·e.",
            403,
        )
    if channel == "amqp":
        await declare_delivery_queue(runtime.settings.amqp_url, who.org)
    async with runtime.pool.acquire() as conn, conn.transaction():
        return await subscriptions.add_subscription(
            conn,
            id=uuid.uuid4(),
            pre_id=who.pre,
            org_id=who.org,
            user_id=who.sub if personal else None,
            roles=sorted(who.roles) if personal else [],
            event_types=event_types,
            situation_id=situation_id,
            referent_id=referent_id,
            channel=channel,
            language=language,
            email=email,
            webhook_id=webhook_id,
            digest=digest,
        )


async def add_webhook(
    runtime: ServiceRuntime,
    who: Principal,
    *,
    url: str,
    event_types: list[str],
    language: str,
    allow_insecure: bool,
) -> tuple[dict[str, Any], str]:
    """Register an endpoint and subscribe it to what concerns the organisation."""
    check_webhook_url(url, allow_insecure=allow_insecure)
    secret = new_secret()
    async with runtime.pool.acquire() as conn, conn.transaction():
        endpoint = await subscriptions.add_endpoint(
            conn, id=uuid.uuid4(), pre_id=who.pre, org_id=who.org, url=url, secret=secret
        )
        await subscriptions.add_subscription(
            conn,
            id=uuid.uuid4(),
            pre_id=who.pre,
            org_id=who.org,
            user_id=None,
            roles=[],
            event_types=event_types,
            channel="webhook",
            language=language,
            webhook_id=endpoint["id"],
        )
    return dict(endpoint), secret


async def declare_delivery_queue(amqp_url: str, org_id: str) -> None:
    """The organisation's own durable queue, bound to ``relais.deliver`` by its name."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            DELIVER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
        )
        queue = await channel.declare_queue(
            delivery_queue(org_id), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key=delivery_queue(org_id))
    finally:
        await connection.close()
