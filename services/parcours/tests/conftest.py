"""Service tests: the parcours app against a real PostgreSQL database and RabbitMQ vhost."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from relais_contracts.envelope import new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_contracts.v1.referral import ReferralSubmitted
from relais_parcours.config import ParcoursSettings
from relais_parcours.main import create_app
from relais_runtime.sealing import PreKeys, seal
from relais_runtime.testing import eventually
from relais_runtime.testing.helpers import bearer, publish_event, referral_submitted

PRE = "pre-76540"
OTHER_PRE = "pre-14118"
IDENTITY = {
    "child": {"first_name": "Lina", "last_name": "Benaliouche", "birth_date": "2017-03-14"},
    "guardians": [
        {
            "first_name": "Samira",
            "last_name": "Benaliouche",
            "relationship": "mother",
            "phone": "06 12 34 56 78",
        },
    ],
    "referrer": {"name": "Mme Durand", "role": "directrice"},
    "description": "Difficultés de lecture marquées.",
}


@pytest.fixture(scope="session")
def relais_service() -> str:
    """``database_dsn`` (relais_runtime.testing.plugin) has parcours' migrations applied;
    ``amqp_url`` and ``keys_dir`` (both test PREs' keys) come from the plugin too."""
    return "parcours"


@dataclass
class Harness:
    http: httpx.AsyncClient
    app: Any
    keys_dir: Path
    amqp: aio_pika.abc.AbstractConnection
    seen: list[dict[str, Any]] = field(default_factory=list)
    identity: dict[str, Any] = field(default_factory=lambda: IDENTITY)
    other_tenant: str = OTHER_PRE
    #: The database as its owner sees it (row-level security aside): for a test to look at
    #: or arrange rows behind the service's back.
    dsn: str = ""

    @asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.dsn)
        try:
            for typename in ("json", "jsonb"):  # as the service's pool decodes them
                await conn.set_type_codec(
                    typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
                )
            yield conn
        finally:
            await conn.close()

    def auth(
        self,
        role: str,
        org: str = "pre-76540-coordination",
        *,
        sub: str | None = None,
        tenant: str = PRE,
    ) -> dict[str, str]:
        return bearer(self.keys_dir, role, org, sub=sub, tenant=tenant)

    async def submit_referral(
        self,
        *,
        subject_id: uuid.UUID | None = None,
        institution: str = "ecole-jules-ferry",
        tenant: str = PRE,
        identity: dict[str, Any] | None = None,
    ) -> ReferralSubmitted:
        sealed = seal(identity or IDENTITY, PreKeys(self.keys_dir).public_key(tenant))
        referral = referral_submitted(sealed, subject_id=subject_id, institution=institution)
        event = new_event(referral, source="/relais/referral", tenant=tenant, sequence=1)
        await publish_event(self.amqp, event)
        return referral

    async def event(self, ce_type: str, timeout: float = 15, **match: Any) -> dict[str, Any]:
        """Wait for an event of that type (suffix) whose data matches ``match``."""

        async def found() -> dict[str, Any] | None:
            for e in self.seen:
                if e["type"].endswith(ce_type + ".v1") and all(
                    e["data"].get(k) == v for k, v in match.items()
                ):
                    return e
            return None

        return await eventually(found, timeout)

    async def publish(self, data: Any, tenant: str = PRE) -> None:
        event = new_event(data, source="/relais/referral", tenant=tenant, sequence=2)
        await publish_event(self.amqp, event)

    @staticmethod
    async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
        return await eventually(check, timeout)

    async def open_situation(self, **kwargs: Any) -> tuple[ReferralSubmitted, str]:
        referral = await self.submit_referral(**kwargs)
        opened = await self.event("situation.opened", subject_id=str(referral.subject_id))
        return referral, opened["data"]["situation_id"]

    async def decide(self, situation_id: str, **decision: Any) -> httpx.Response:
        from . import checks  # here: checks imports Harness from this module

        coordinator = self.auth("coordinator")
        meeting = await self.http.post(
            "/v1/reviews",
            json={
                "meets_on": str(checks.today()),
                "attendees": [
                    {"name": "Mme Leroy", "organisation": "PRE", "role": "coordinatrice"}
                ],
                "situation_ids": [situation_id],
            },
            headers=coordinator,
        )
        if meeting.status_code != 201:
            return meeting
        body = {
            "situation_id": situation_id,
            **(decision or {"decision": "take_up", "axes": ["schooling", "health"]}),
        }
        return await self.http.post(
            f"/v1/reviews/{meeting.json()['id']}/decisions", json=body, headers=coordinator
        )

    async def add_referent(self, sub: str = "referente-1", limit: int | None = None) -> str:
        referent_id = str(uuid.uuid4())
        r = await self.http.put(
            f"/v1/referents/{referent_id}",
            json={"user_sub": sub, "display_name": f"Référente {sub}", "caseload_limit": limit},
            headers=self.auth("coordinator"),
        )
        assert r.status_code == 200, r.text
        return referent_id

    async def in_parcours(
        self, referent_sub: str = "referente-1"
    ) -> tuple[ReferralSubmitted, str, str]:
        """A situation taken up, with a référent: (referral, situation id, référent id)."""
        referral, situation_id = await self.open_situation()
        assert (await self.decide(situation_id)).status_code == 201
        referent_id = await self.add_referent(referent_sub)
        r = await self.http.put(
            f"/v1/situations/{situation_id}/referent",
            json={"referent_id": referent_id},
            headers=self.auth("coordinator"),
        )
        assert r.status_code == 200, r.text
        return referral, situation_id, referent_id

    async def add_partner(self, partner_id: str = "cmpp-rouen", category: str = "cmpp") -> None:
        r = await self.http.put(
            f"/v1/partners/{partner_id}",
            json={
                "id": partner_id,
                "pre_id": PRE,
                "name": f"Partenaire {partner_id}",
                "category": category,
            },
            headers=self.auth("coordinator"),
        )
        assert r.status_code == 200, r.text

    async def give_consent(
        self,
        situation_id: str,
        scope: list[dict[str, Any]],
        referent_sub: str = "referente-1",
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "form": "signed",
            "given_at": datetime.now(UTC).isoformat(),
            "guardians": [
                {"label": "Mère", "relationship": "mother"},
                {"label": "Père", "relationship": "father"},
            ],
            "scope": scope,
            **extra,
        }
        return await self.http.post(
            f"/v1/situations/{situation_id}/consents",
            json=body,
            headers=self.auth("referent", sub=referent_sub),
        )

    async def ready_to_hand_over(self, scope: list[dict[str, Any]] | None = None) -> dict[str, str]:
        """In parcours with consent (CMPP: identity + health) and one health action."""
        await self.add_partner("cmpp-rouen", "cmpp")
        await self.add_partner("clas-saint-sever", "clas")
        _, situation_id, referent_id = await self.in_parcours()
        r = await self.give_consent(
            situation_id,
            scope
            if scope is not None
            else [
                {"partner_id": "cmpp-rouen", "data_categories": ["identity_and_contact", "health"]},
            ],
        )
        assert r.status_code == 201, r.text
        referent = self.auth("referent", sub="referente-1")
        base = f"/v1/situations/{situation_id}/plan"
        objective = await self.http.post(
            f"{base}/objectives", json={"axis": "health", "title": "Bilan"}, headers=referent
        )
        action = await self.http.post(
            f"{base}/objectives/{objective.json()['id']}/actions",
            json={"title": "Bilan psychomoteur"},
            headers=referent,
        )
        return {
            "situation_id": situation_id,
            "referent_id": referent_id,
            "consent_id": r.json()["id"],
            "action_id": action.json()["id"],
        }

    async def hand_over(
        self, s: dict[str, str], partner_id: str = "cmpp-rouen", categories: list[str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            f"/v1/situations/{s['situation_id']}/handovers",
            json={
                "action_id": s["action_id"],
                "partner_id": partner_id,
                "data_categories": categories
                if categories is not None
                else ["identity_and_contact", "health"],
                "message": "Merci de proposer un rendez-vous.",
            },
            headers=self.auth("referent", sub="referente-1"),
        )

    def count(self, ce_type: str) -> int:
        return sum(1 for e in self.seen if e["type"].endswith(ce_type + ".v1"))


@pytest.fixture
async def parcours(amqp_url: str, database_dsn: str, keys_dir: Path) -> AsyncIterator[Harness]:
    settings = ParcoursSettings(
        database_url=database_dsn,
        amqp_url=amqp_url,
        jwks_path=keys_dir / "jwks.json",
        family_jwks_path=keys_dir / "family" / "jwks.json",
        keys_dir=keys_dir,
        scheduler_interval_s=3600,
        retry_delays_ms=[200],
        immediate_attempts=1,
    )
    app = create_app(settings)
    amqp = await aio_pika.connect(amqp_url)
    async with app.router.lifespan_context(app):
        channel = await amqp.channel()
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(EVENTS_EXCHANGE, routing_key="#")
        seen: list[dict[str, Any]] = []

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            seen.append(json.loads(message.body))
            await message.ack()

        await queue.consume(keep)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parcours") as http:
            yield Harness(
                http=http, app=app, keys_dir=keys_dir, amqp=amqp, seen=seen, dsn=database_dsn
            )
    await amqp.close()
