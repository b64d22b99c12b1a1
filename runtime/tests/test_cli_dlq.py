"""``relais dlq`` run as a real command against parked messages on the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import aio_pika
import pytest

from relais_contracts.topology import EVENTS_EXCHANGE, PARKING_EXCHANGE
from relais_runtime import testing
from relais_runtime.topology import WorkQueue, declare_topology

pytestmark = pytest.mark.integration


def relais(amqp_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from relais_runtime.cli import main; main()",
            *args,
            "--amqp-url",
            amqp_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def park(amqp_url: str, queue: str, message_id: str, reason: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(PARKING_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                json.dumps({"type": "fr.relais.referral.withdrawn.v1", "subject": "r-1"}).encode(),
                message_id=message_id,
                headers={
                    "x-relais-parked-reason": reason,
                    "x-relais-error": "RuntimeError: partner API down",
                    "x-relais-parked-at": "2026-11-23T10:00:00+00:00",
                    "x-relais-original-routing-key": "referral.withdrawn.v1.pre-76540",
                },
            ),
            routing_key=queue,
            mandatory=True,
        )


async def test_operator_lists_shows_replays_and_purges_parked_messages(amqp_url: str) -> None:
    queue = f"test.cli-{uuid.uuid4().hex[:6]}"
    await declare_topology(
        amqp_url,
        [WorkQueue(queue, EVENTS_EXCHANGE, ("nothing.bound.v1.*",))],
        delays_ms=[200],
        delivery_limit=5,
    )
    for mid, reason in (("m-1", "retries_exhausted"), ("m-2", "schema_violation")):
        await park(amqp_url, queue, mid, reason)

    listed = relais(amqp_url, "dlq", "list", queue, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["message_id"], r["reason"]) for r in rows] == [
        ("m-1", "retries_exhausted"),
        ("m-2", "schema_violation"),
    ]

    shown = relais(amqp_url, "dlq", "show", queue, "m-1")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["error"] == "RuntimeError: partner API down"
    assert relais(amqp_url, "dlq", "show", queue, "nope").returncode == 1

    refused = relais(amqp_url, "dlq", "replay", queue)
    assert refused.returncode != 0  # neither --id nor --all

    replayed = relais(amqp_url, "dlq", "replay", queue, "--id", "m-1")
    assert replayed.returncode == 0, replayed.stderr
    assert "1 message(s) rejoué(s)" in replayed.stdout
    assert await testing.message_count(amqp_url, queue) == 1  # back in its own work queue only

    purged = relais(amqp_url, "dlq", "purge", queue, "--all", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert "1 message(s) supprimé(s)" in purged.stdout
    counts = relais(amqp_url, "dlq", "list", "--json")
    assert counts.returncode == 0, counts.stderr


async def park_body(amqp_url: str, queue: str, message_id: str, body: bytes) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(PARKING_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(body, message_id=message_id), routing_key=queue, mandatory=True
        )


def event(subject: str, **data: object) -> bytes:
    return json.dumps({"type": "fr.relais.x.v1", "subject": subject, "data": data}).encode()


async def test_purge_child_drops_every_parked_message_about_an_erased_child_only(
    amqp_url: str,
) -> None:
    from relais_runtime.runtime import work_queues

    await declare_topology(
        amqp_url, work_queues(["parcours.referrals"]), delays_ms=[200], delivery_limit=5
    )
    child, referral, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    queue = "parcours.referrals"
    await park_body(amqp_url, queue, "by-subject", event(referral, subject_id=child))
    await park_body(amqp_url, queue, "by-referral", event("x", referral_ids=[referral]))
    await park_body(amqp_url, queue, "other-child", event(other, subject_id=other))
    await park_body(amqp_url, queue, "not-json", b"\xff garbage")

    purged = relais(amqp_url, "dlq", "purge-child", child, referral)

    assert purged.returncode == 0, purged.stderr
    assert "2 message(s)" in purged.stdout
    listed = relais(amqp_url, "dlq", "list", queue, "--json")
    assert [json.loads(line)["message_id"] for line in listed.stdout.splitlines()] == [
        "other-child",
        "not-json",
    ]
