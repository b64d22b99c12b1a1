"""create_app(): wires settings, runtime, subscribers, dispatcher and routes; nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from relais_notifications.config import NotificationsSettings
from relais_notifications.domain.audience import Links
from relais_notifications.entrypoints import consumers, http, http_webhooks
from relais_notifications.service.digest import send_digests
from relais_notifications.service.dispatch import Dispatcher
from relais_notifications.service.escalate import escalate_due
from relais_notifications.service.live import FeedHub
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.runtime import ServiceRuntime


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        settings,
        service="notifications",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.EVENTS_QUEUE],
    )
    links = Links(referral=settings.referral_url, parcours=settings.parcours_url)
    consumers.register(runtime, settings, links)
    app = build_app(
        runtime,
        title="Relais — notifications",
        description="Qui doit être prévenu de quoi, sur quel canal, sans identité d'enfant.",
        routers=[http.router, http_webhooks.router],
    )
    http_webhooks.document_deliveries(app)
    dispatcher = Dispatcher(runtime, settings)

    async def escalations() -> None:
        await escalate_due(runtime, links)

    async def digests() -> None:
        await send_digests(runtime, settings, datetime.now(UTC))

    dispatcher.jobs += [escalations, digests]
    hub = FeedHub(settings.database_url)
    app.state.dispatcher = dispatcher
    app.state.feed_hub = hub

    app.router.lifespan_context = runtime.lifespan_with(hub, dispatcher)
    return app
