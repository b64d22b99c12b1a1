"""Bounded lag: while the outbox relay is behind, intake refuses instead of accepting late."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from relais_contracts.topology import EVENTS_EXCHANGE
from relais_runtime import outbox, testing

from .conftest import SCHOOL, running_app
from .test_referral_consumers import command, publish

pytestmark = pytest.mark.integration

MAX_LAG_S = 1.0


async def test_intake_answers_503_in_french_while_the_outbox_is_behind_and_loses_nothing_accepted(
    database_dsn: str, keys_dir: Path, fiche: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The relay is held back: every publish waits until the test lets it go.
    release = asyncio.Event()
    real_publish = outbox.AmqpPublisher.publish

    async def held(self: outbox.AmqpPublisher, msg: outbox.OutgoingMessage) -> None:
        await release.wait()
        await real_publish(self, msg)

    monkeypatch.setattr(outbox.AmqpPublisher, "publish", held)
    vhost = testing.unique_name("relais-test-lag")
    amqp_url = await testing.create_vhost(vhost)
    loop = asyncio.get_running_loop()
    try:
        async with running_app(
            database_dsn,
            amqp_url,
            keys_dir,
            outbox_max_lag_s=MAX_LAG_S,
            outbox_lag_check_interval_s=0.1,
        ) as app:
            connection = await aio_pika.connect(amqp_url)
            channel = await connection.channel()
            wire = await channel.declare_queue("", exclusive=True)
            await wire.bind(EVENTS_EXCHANGE, routing_key="#")
            await app.register(SCHOOL)
            headers = app.auth("institution", SCHOOL)

            accepted: list[str] = []
            first_sent_at = refused_at = 0.0
            refusal = None
            while loop.time() - (first_sent_at or loop.time()) < 30:
                sent_at = loop.time()
                r = await app.http.post("/v1/referrals", json=fiche(), headers=headers)
                if r.status_code != 201:
                    refusal, refused_at = r, loop.time()
                    break
                accepted.append(r.json()["id"])
                first_sent_at = first_sent_at or sent_at
                await asyncio.sleep(0.05)

            assert refusal is not None, "intake never refused while the relay was held"
            assert refusal.status_code == 503, refusal.text
            # Not before the bound: the oldest row, written after the first accepted POST
            # was sent, was younger than MAX_LAG_S until then.
            assert refused_at - first_sent_at >= MAX_LAG_S
            assert accepted
            body = refusal.json()
            assert body["code"] == "intake_overloaded"
            assert "n'a pas été enregistré" in body["message"]
            assert int(refusal.headers["Retry-After"]) >= 1
            async with app.runtime.pool.acquire() as conn:
                stored = await conn.fetchval("SELECT count(*) FROM referrals")
            assert stored == len(accepted)  # the refused referral left nothing behind

            # Over AMQP, the command waits in its queue instead of being taken in.
            await publish(amqp_url, command(app, fiche), source=f"/institutions/{SCHOOL}")
            await asyncio.sleep(1.5)
            async with app.runtime.pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM referrals") == len(accepted)

            release.set()  # the relay catches up; intake opens again

            async def amqp_referral_taken_in() -> bool:
                async with app.runtime.pool.acquire() as conn:
                    found: str | None = await conn.fetchval(
                        "SELECT id::text FROM referrals WHERE channel = 'amqp'"
                    )
                if found is not None:
                    accepted.append(found)
                return found is not None

            await eventually(amqp_referral_taken_in)

            async def accepted_again() -> bool:
                r = await app.http.post("/v1/referrals", json=fiche(), headers=headers)
                if r.status_code == 201:
                    accepted.append(r.json()["id"])
                    return True
                assert r.status_code == 503, r.text
                return False

            await eventually(accepted_again)

            # Every accepted referral went out, once.
            submitted: list[str] = []
            deadline = loop.time() + 30
            while sorted(submitted) != sorted(accepted) and loop.time() < deadline:
                message = await wire.get(timeout=5, fail=False)
                if message is None:
                    continue
                await message.ack()
                event = json.loads(message.body)
                if event["type"].endswith("referral.submitted.v1"):
                    submitted.append(event["data"]["referral_id"])
            assert sorted(submitted) == sorted(accepted)
            await connection.close()
    finally:
        release.set()
        await testing.delete_vhost(vhost)


async def eventually(check: Any, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)
