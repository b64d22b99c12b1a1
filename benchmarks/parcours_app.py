"""The parcours app in-process on a throw-away database and RabbitMQ vhost, for the
benchmarks that drive it directly (``parcours_intake.py``, ``access_log_cost.py``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from relais_parcours.config import ParcoursSettings
from relais_parcours.main import create_app
from relais_runtime import testing
from relais_runtime.auth import generate_signing_key
from relais_runtime.logging import configure_logging
from relais_runtime.sealing import generate_pre_key


@dataclass(frozen=True)
class ParcoursApp:
    app: FastAPI
    #: The signing key (``jwt-signing.json``) and the PRE's sealing key.
    keys: Path
    db_name: str
    dsn: str
    amqp_url: str


@asynccontextmanager
async def parcours_app(name: str, tenant: str) -> AsyncIterator[ParcoursApp]:
    """Started (its lifespan entered) with keys for ``tenant`` (a PRE); the database, the vhost and
    the keys are removed at the end, also on an error or Ctrl-C."""
    configure_logging("bench", "WARNING", stream="stderr")
    db_name = testing.unique_name(f"relais_bench_{name}")
    vhost = testing.unique_name(f"relais-bench-{name}")
    keys = Path(tempfile.mkdtemp(prefix="relais-bench-keys-"))
    try:
        dsn = await testing.create_database(db_name)
        try:
            amqp_url = await testing.create_vhost(vhost)
            try:
                generate_signing_key(keys)
                generate_pre_key(keys, tenant)
                settings = ParcoursSettings(
                    database_url=dsn,
                    amqp_url=amqp_url,
                    jwks_path=keys / "jwks.json",
                    family_jwks_path=keys / "family" / "jwks.json",
                    keys_dir=keys,
                    scheduler_interval_s=3600,
                    log_level="WARNING",
                )
                app = create_app(settings)
                async with app.router.lifespan_context(app):
                    # The app configured its logs for stdout: the benchmark's go to stderr.
                    configure_logging("bench", "WARNING", stream="stderr")
                    yield ParcoursApp(app, keys, db_name, dsn, amqp_url)
            finally:
                await testing.delete_vhost(vhost)
        finally:
            await testing.drop_database(db_name)
    finally:
        shutil.rmtree(keys, ignore_errors=True)
