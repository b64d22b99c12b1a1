"""create_app(): wires settings, runtime, subscribers, routes and maintenance; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from relais_referral.adapters.unit_of_work import unit_of_work
from relais_referral.config import ReferralSettings
from relais_referral.entrypoints import consumers
from relais_referral.entrypoints.http import router, well_known
from relais_referral.entrypoints.maintenance import Maintenance, idempotency_pruner
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.runtime import ServiceRuntime


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime(
        settings,
        service="referral",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.PARCOURS_EVENTS_QUEUE, consumers.INTAKE_QUEUE],
    )
    keys = consumers.keys_from(settings)
    consumers.register(runtime, keys)
    app = build_app(
        runtime,
        title="Relais — orientations",
        description="Orientations des établissements vers le PRE, et leur suivi par l'émetteur.",
        routers=[router, well_known],
    )
    app.state.referral_keys = keys
    app.state.referral_uows = unit_of_work(runtime, keys)
    maintenance = Maintenance(runtime, settings, keys)
    app.state.referral_maintenance = maintenance
    pruner = idempotency_pruner(runtime, settings)

    app.router.lifespan_context = runtime.lifespan_with(maintenance, pruner)
    return app
