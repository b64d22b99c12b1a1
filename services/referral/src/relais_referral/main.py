"""create_app(): wires settings, runtime, subscribers and routes; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from relais_referral.config import ReferralSettings
from relais_referral.entrypoints import consumers
from relais_referral.entrypoints.http import router
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.runtime import ServiceRuntime


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime(
        settings,
        service="referral",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.PARCOURS_EVENTS_QUEUE],
    )
    consumers.register(runtime)
    return build_app(
        runtime,
        title="Relais — orientations",
        description="Orientations des établissements vers le PRE, et leur suivi par l'émetteur.",
        routers=[router],
    )
