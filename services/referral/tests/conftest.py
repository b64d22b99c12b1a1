"""Fixtures for the referral service's tests against the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from relais_referral.adapters.keys import ReferralKeys, generate_intake_key, generate_pre_secrets
from relais_referral.config import ReferralSettings
from relais_referral.main import create_app
from relais_runtime import testing
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.testing.helpers import bearer

PRE = "pre-76540"
OTHER_PRE = "pre-14118"
SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"


@pytest.fixture(scope="session")
def relais_service() -> str:
    """``database_dsn`` (relais_runtime.testing.plugin) has referral's migrations applied."""
    return "referral"


@pytest.fixture(scope="session")
def keys_dir(keys_dir: Path) -> Path:
    """The plugin's keys (signing, both PREs' sealing keys) and referral's own secrets."""
    for tenant in (PRE, OTHER_PRE):
        generate_pre_secrets(keys_dir / "referral", tenant)
    generate_intake_key(keys_dir / "referral")
    return keys_dir


@dataclass
class App:
    http: httpx.AsyncClient
    runtime: ServiceRuntime
    keys: ReferralKeys
    keys_dir: Path
    amqp_url: str

    def auth(self, role: str, org: str, tenant: str = PRE) -> dict[str, str]:
        return bearer(self.keys_dir, role, org, tenant=tenant)

    async def register(self, institution_id: str, category: str = "school", **extra: Any) -> None:
        r = await self.http.put(
            f"/v1/institutions/{institution_id}",
            json={"id": institution_id, "pre_id": PRE, "name": institution_id, "category": category}
            | extra,
            headers=self.auth("admin", "pre-76540-coordination"),
        )
        assert r.status_code == 200, r.text

    async def known_subject(self, referral_id: str) -> bool:
        """Whether the referral was recognised as a child already referred (the PRE's to know)."""
        async with self.runtime.pool.acquire() as conn:
            known: bool = await conn.fetchval(
                "SELECT known_subject FROM referrals WHERE id = $1::uuid", referral_id
            )
        return known

    async def outbox(self, type_suffix: str = "") -> list[dict[str, Any]]:
        """Events written by the service (unroutable in this vhost, so they stay)."""
        import json

        async with self.runtime.pool.acquire() as conn:
            rows = await conn.fetch("SELECT body FROM relais_outbox ORDER BY position")
        events = [json.loads(r["body"]) for r in rows]
        return [e for e in events if e["type"].endswith(type_suffix)]


@asynccontextmanager
async def running_app(
    database_url: str, amqp_url: str, keys_dir: Path, **overrides: Any
) -> AsyncIterator[App]:
    settings = ReferralSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwks_path=keys_dir / "jwks.json",
        keys_dir=keys_dir,
        retry_delays_ms=[200],
        immediate_attempts=1,
        consumer_watchdog_interval_s=60,
        **overrides,
    )
    fastapi_app = create_app(settings)
    runtime: ServiceRuntime = fastapi_app.state.runtime
    await runtime.start()
    transport = httpx.ASGITransport(app=fastapi_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://referral") as http:
            yield App(http, runtime, fastapi_app.state.referral_keys, keys_dir, amqp_url)
    finally:
        await runtime.stop()


@pytest.fixture
async def app(database_dsn: str, amqp_url: str, keys_dir: Path) -> AsyncIterator[App]:
    async with running_app(database_dsn, amqp_url, keys_dir) as running:
        yield running


@pytest.fixture
async def pg_proxy() -> AsyncIterator[testing.TcpProxy]:
    """A relay to PostgreSQL that a test cuts to make the database unreachable."""
    proxy = testing.TcpProxy()
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def app_behind_proxy(
    database_dsn: str, pg_proxy: testing.TcpProxy, amqp_url: str, keys_dir: Path
) -> AsyncIterator[App]:
    """The app reaching its database through ``pg_proxy``; the database is back at teardown."""
    database = urlsplit(database_dsn).path.lstrip("/")
    async with running_app(pg_proxy.dsn(database), amqp_url, keys_dir) as running:
        try:
            yield running
        finally:
            if not pg_proxy.serving:
                await pg_proxy.restore()


def fiche(tenant: str = PRE, **changes: Any) -> dict[str, Any]:
    """A valid referral body; ``changes`` replace top-level parts."""
    body: dict[str, Any] = {
        "pre_id": tenant,
        "child": {
            "first_name": "Éloïse",
            "last_name": "Le Gall-Martin",
            "birth_date": "2017-03-14",
            "sex": "female",
            "school_name": "École Jules Ferry",
            "school_uai": "0761234A",
            "school_level": "ce2",
            "lives_in_qpv": "yes",
        },
        "guardians": [
            {
                "first_name": "Samira",
                "last_name": "Le Gall",
                "relationship": "mother",
                "parental_authority": True,
                "phone": "06 12 34 56 78",
                "languages": ["fr", "ar"],
                "interpreter_needed": False,
            }
        ],
        "referrer": {"name": "Mme Durand", "role": "directrice", "email": "durand@ecole.example"},
        "reasons": {
            "categories": ["learning_difficulties"],
            "description": "Difficultés de lecture marquées.",
        },
        "axes": ["schooling", "health"],
        "parents_informed": True,
        "parents_agree": True,
    }
    return body | changes


Fiche = Callable[..., dict[str, Any]]


@pytest.fixture(name="fiche")
def fiche_fixture() -> Fiche:
    return fiche
