"""Fixtures for the notifications service tests: real PostgreSQL and RabbitMQ, isolated.

``amqp_url``, ``database_dsn`` and ``keys_dir`` come from relais_runtime.testing.plugin.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_notifications.config import NotificationsSettings
from relais_notifications.main import create_app
from relais_notifications.testing import SmtpSink, WebhookReceiver
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.testing import eventually as eventually  # the tests import it here
from relais_runtime.testing.helpers import bearer, publish_event

PRE = "pre-76540"


@pytest.fixture(scope="session")
def relais_service() -> str:
    """``database_dsn`` is a database with notifications' migrations applied."""
    return "notifications"


@dataclass
class Service:
    runtime: ServiceRuntime
    http: httpx.AsyncClient
    amqp_url: str
    keys_dir: Path
    settings: NotificationsSettings
    app: Any = None
    stop: Callable[[], Awaitable[None]] | None = None

    def token(
        self, role: str, org: str, *, sub: str | None = None, tenant: str = PRE
    ) -> dict[str, str]:
        return bearer(self.keys_dir, role, org, sub=sub, tenant=tenant)

    async def publish(
        self,
        data: Message,
        *,
        tenant: str = PRE,
        event_id: uuid.UUID | None = None,
        sequence: int = 1,
    ) -> CloudEvent[Any]:
        event = new_event(
            data, source="/relais/parcours", tenant=tenant, sequence=sequence, event_id=event_id
        )
        await publish_event(self.amqp_url, event)
        return event

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.runtime.pool.acquire() as conn:
            return list(await conn.fetch(sql, *args))


@dataclass
class Tap:
    """What crossed ``relais.events`` for some routing keys, as CloudEvent dicts."""

    seen: list[dict[str, Any]]

    def types(self) -> list[str]:
        return [e["type"] for e in self.seen]


@pytest.fixture
async def tap_notifications(amqp_url: str) -> AsyncIterator[Tap]:
    connection = await aio_pika.connect(amqp_url)
    tap = Tap([])
    async with connection:
        channel = await connection.channel()
        # The tap may start before the service declares the topology.
        await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(EVENTS_EXCHANGE, routing_key="notification.#")

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            tap.seen.append(json.loads(message.body))
            await message.ack()

        await queue.consume(keep)
        yield tap


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as peer:
        yield peer


ServiceFactory = Callable[..., Awaitable[Service]]
SmtpFactory = Callable[..., SmtpSink]


@pytest.fixture
def start_smtp() -> Iterator[SmtpFactory]:
    """Start in-process SMTP servers (aiosmtpd), stopped afterwards.

    aiosmtpd logs every connection at INFO on ``mail.log`` ("EOF received", "connection
    lost"): noise in test output, so it is raised to WARNING while they run.
    """
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    sinks: list[SmtpSink] = []

    def start(**kwargs: Any) -> SmtpSink:
        sink = SmtpSink(**kwargs)
        sink.start()
        sinks.append(sink)
        return sink

    try:
        yield start
    finally:
        for sink in sinks:
            sink.stop()
        mail_log.setLevel(level)


@pytest.fixture
async def start_service(
    amqp_url: str, database_dsn: str, keys_dir: Path
) -> AsyncIterator[ServiceFactory]:
    """Start the notifications runtime (broker, database, consumers) with an HTTP client."""

    async def start(**overrides: Any) -> Service:
        values: dict[str, Any] = {
            "amqp_url": amqp_url,
            "database_url": database_dsn,
            "jwks_path": keys_dir / "jwks.json",
            "retry_delays_ms": [200, 400],
            "immediate_attempts": 2,
            "outbox_poll_interval_s": 0.2,
            "referral_url": "https://referral.example",
            "parcours_url": "https://parcours.example",
            "dispatch_interval_s": 0.1,
            "webhook_allow_insecure": True,
        }
        settings = NotificationsSettings(**(values | overrides))
        app = create_app(settings)
        runtime: ServiceRuntime = app.state.runtime
        own = contextlib.AsyncExitStack()
        await own.enter_async_context(app.router.lifespan_context(app))
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        own.push_async_callback(http.aclose)
        stack.push_async_callback(own.aclose)
        return Service(runtime, http, amqp_url, keys_dir, settings, app, own.aclose)

    async with contextlib.AsyncExitStack() as stack:
        yield start
