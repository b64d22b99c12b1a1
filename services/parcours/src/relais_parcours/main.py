"""create_app(): wires settings, runtime, subscribers and routes; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from relais_parcours.config import ParcoursSettings
from relais_parcours.entrypoints import consumers
from relais_parcours.entrypoints.http import router
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.runtime import ServiceRuntime


def create_app(settings: ParcoursSettings | None = None) -> FastAPI:
    settings = settings or ParcoursSettings()
    runtime = ServiceRuntime(
        settings,
        service="parcours",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.REFERRALS_QUEUE],
    )
    consumers.register(runtime, settings)
    return build_app(
        runtime,
        title="Relais — parcours",
        description="Situations, revues d'équipe, consentements, plans et relais aux partenaires.",
        routers=[router],
    )
