"""create_app(): wires settings, runtime, subscribers, routes and the scheduler; nothing else."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import FastAPI

from relais_parcours.adapters.unit_of_work import PgUnits
from relais_parcours.adapters.vault import load_master_key, load_vault
from relais_parcours.config import ParcoursSettings
from relais_parcours.context import Parcours
from relais_parcours.entrypoints import (
    consumers,
    http,
    http_directory_changes,
    http_family,
    http_family_notices,
    http_handovers,
    http_hsds,
    http_parcours,
    http_partners,
    http_team,
    scheduler,
    validation,
)
from relais_runtime.app import build_app, migrations_dir
from relais_runtime.idempotency import IdempotencyPruner
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.sealing import PreKeys


def create_app(settings: ParcoursSettings | None = None) -> FastAPI:
    settings = settings or ParcoursSettings()
    runtime = ServiceRuntime(
        settings,
        service="parcours",
        migrations_dir=migrations_dir(__file__),
        queues=[consumers.REFERRALS_QUEUE],
        db_role=settings.db_role,
    )
    vault = load_vault(
        settings.keys_dir, settings.master_key or None, create=settings.master_key_create
    )
    master = load_master_key(settings.keys_dir, settings.master_key or None, create=False)
    ctx = Parcours(
        settings=settings,
        pre_keys=PreKeys(settings.keys_dir),
        vault=vault,
        # A key of its own, derived: the master key itself only ever wraps data keys.
        idempotency_secret=hmac.new(master, b"parcours idempotency", hashlib.sha256).digest(),
        units=PgUnits(runtime, settings.db_sweep_role),
    )
    consumers.register(runtime, ctx)
    app = build_app(
        runtime,
        title="Relais — parcours",
        description="Situations, revues d'équipe, consentements, plans et relais aux partenaires.",
        routers=[
            http.router,
            http_team.router,
            http_parcours.router,
            http_handovers.router,
            http_partners.router,
            http_hsds.router,
            http_directory_changes.router,
            http_family.router,
            http_family_notices.router,
        ],
        family_tokens=True,
    )
    app.state.parcours = ctx
    pruner = IdempotencyPruner(
        lambda: runtime.pool,
        retention_days=settings.idempotency_retention_days,
        batch=settings.idempotency_prune_batch,
        interval_s=settings.idempotency_prune_interval_s,
    )
    app.state.idempotency_pruner = pruner
    validation.install_field_refusals(app)

    deadlines = scheduler.DeadlineScheduler(runtime, ctx)
    app.router.lifespan_context = runtime.lifespan_with(deadlines, pruner)
    return app
