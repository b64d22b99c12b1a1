"""Use cases behind the subscription and webhook API (one transaction each)."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg

from relais_contracts.topology import delivery_queue
from relais_contracts.types import DeliveryFailure
from relais_notifications.adapters import deliveries, subscriptions
from relais_notifications.adapters.channels import DELIVER_EXCHANGE, Sent
from relais_notifications.service.dispatch import emit_failed
from relais_runtime import broker
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

STAFF_ROLES = frozenset({"coordinator", "referent", "admin"})


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_webhook_url(url: str, *, allow_insecure: bool) -> None:
    invalid = DomainError("webhook_url_invalid", "L'adresse du webhook n'est pas valide.", 422)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. "https://[::1": urlsplit raises rather than returning parts
        raise invalid from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise invalid
    if allow_insecure:
        return
    if parts.scheme != "https":
        raise DomainError(
            "webhook_url_not_https", "L'adresse du webhook doit commencer par https://.", 422
        )
    try:
        address = ipaddress.ip_address(hostname)
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
            pre_id=who.tenant,
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
            conn, id=uuid.uuid4(), tenant=who.tenant, org_id=who.org, url=url, secret=secret
        )
        await subscriptions.add_subscription(
            conn,
            id=uuid.uuid4(),
            pre_id=who.tenant,
            org_id=who.org,
            user_id=None,
            roles=[],
            event_types=event_types,
            channel="webhook",
            language=language,
            webhook_id=endpoint["id"],
        )
    return dict(endpoint), secret


def _not_found() -> DomainError:
    return DomainError("webhook_not_found", "Webhook introuvable.", 404)


async def delete_webhook(runtime: ServiceRuntime, who: Principal, hook_id: uuid.UUID) -> None:
    """Remove the organisation's endpoint; what still waited for it is given up.

    The endpoint is locked before its deliveries, as the dispatcher settles them, so a
    settle in flight waits, then finds the delivery no longer ``sending`` and the endpoint
    gone: nothing is settled twice and no attempt is logged for a deleted endpoint.
    """
    async with runtime.pool.acquire() as conn, conn.transaction():
        if not await subscriptions.lock_own_endpoint(conn, who.tenant, who.org, hook_id):
            raise _not_found()
        deleted = DeliveryFailure.ENDPOINT_DELETED
        for waiting in await deliveries.give_up_endpoint(conn, hook_id, deleted):
            await emit_failed(runtime, conn, dict(waiting), Sent(deleted), will_retry=False)
        await subscriptions.delete_endpoint(conn, hook_id)


async def rotate_webhook_secret(
    runtime: ServiceRuntime, who: Principal, hook_id: uuid.UUID, *, grace_s: float
) -> tuple[str, datetime | None]:
    """A new signing secret, returned once; the previous one keeps signing for
    ``grace_s`` seconds (None returned as its end when there is no grace period)."""
    secret = new_secret()
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await subscriptions.rotate_secret(conn, who.tenant, who.org, hook_id, secret, grace_s)
    if row is None:
        raise _not_found()
    return secret, row["previous_secret_until"] if grace_s > 0 else None


async def declare_delivery_queue(amqp_url: str, org_id: str) -> None:
    """The organisation's own durable queue, bound to ``relais.deliver`` by its name."""
    connection = await broker.connect(amqp_url)
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
