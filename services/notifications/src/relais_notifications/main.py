"""create_app(): wires settings, runtime, subscribers and routes; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from relais_notifications.config import NotificationsSettings
from relais_notifications.entrypoints import consumers
from relais_notifications.entrypoints.http import router
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
    consumers.register(runtime, settings)
    return build_app(
        runtime,
        title="Relais — notifications",
        description="Qui doit être prévenu de quoi, sur quel canal, sans identité d'enfant.",
        routers=[router],
    )
