"""create_app(): wires settings, runtime, subscribers and routes; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from relais_reporting.config import ReportingSettings
from relais_reporting.entrypoints import consumers
from relais_reporting.entrypoints.http import router
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.runtime import ServiceRuntime


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(
        settings,
        service="reporting",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.EVENTS_QUEUE],
    )
    consumers.register(runtime)
    return build_app(
        runtime,
        title="Relais — indicateurs",
        description="Indicateurs anonymes par PRE et par année scolaire.",
        routers=[router],
    )
