"""One referral crossing the four services as separate processes over the real broker."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import aio_pika
import httpx
import pytest

from relais_contracts.topology import EVENTS_EXCHANGE
from relais_runtime.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"

CHILD_FIRST, CHILD_LAST = "Lina", "Benaliouche"
GUARDIAN_PHONE = "06 12 34 56 78"
DESCRIPTION = "Difficultés de lecture marquées, fatigue en classe depuis la rentrée."
IDENTIFYING = (
    CHILD_FIRST,
    CHILD_LAST,
    "Samira",
    "0612345678",
    GUARDIAN_PHONE,
    "2017-03-14",
    "durand@ac-normandie.fr",
    "Difficultés de lecture",
)


def referral_body(tenant: str = PRE) -> dict[str, Any]:
    return {
        "pre_id": tenant,
        "child": {
            "first_name": CHILD_FIRST,
            "last_name": CHILD_LAST,
            "birth_date": "2017-03-14",
            "sex": "female",
            "school_level": "ce2",
            "lives_in_qpv": "yes",
        },
        "guardians": [
            {
                "first_name": "Samira",
                "last_name": CHILD_LAST,
                "relationship": "mother",
                "phone": GUARDIAN_PHONE,
                "languages": ["fr", "ar"],
            }
        ],
        "referrer": {"name": "Mme Durand", "role": "directrice", "email": "durand@ac-normandie.fr"},
        "reasons": {"categories": ["learning_difficulties"], "description": DESCRIPTION},
        "axes": ["schooling", "health"],
        "parents_informed": True,
        "parents_agree": True,
    }


async def register_school(http: httpx.AsyncClient, stack: Any) -> None:
    r = await http.put(
        f"{stack.url('referral')}/v1/institutions/{SCHOOL}",
        json={
            "id": SCHOOL,
            "pre_id": PRE,
            "name": "École Jules Ferry",
            "category": "school",
            "uai": "0761234A",
        },
        headers=stack.auth("admin", "pre-76540-coordination"),
    )
    assert r.status_code == 200, r.text


async def tap_events(amqp_url: str) -> tuple[aio_pika.abc.AbstractConnection, list[bytes]]:
    """Bind a queue to every event, to read what actually crossed the broker."""
    seen: list[bytes] = []
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(EVENTS_EXCHANGE, routing_key="#")

    async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        seen.append(message.body)
        await message.ack()

    await queue.consume(keep)
    return connection, seen


def dump_database(dsn: str) -> str:
    return subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", dsn],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


async def test_referral_crosses_the_four_services_and_the_sender_sees_it_under_review(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    connection, on_the_wire = await tap_events(stack.amqp_url)
    institution = stack.auth("institution", SCHOOL)
    async with httpx.AsyncClient(timeout=10) as http:
        await register_school(http, stack)

        created = await http.post(
            f"{stack.url('referral')}/v1/referrals", json=referral_body(), headers=institution
        )
        assert created.status_code == 201, created.text
        referral = created.json()
        assert referral["status"] == "received"
        referral_url = f"{stack.url('referral')}/v1/referrals/{referral['id']}"

        async def under_review() -> dict[str, Any] | None:
            body = (await http.get(referral_url, headers=institution)).json()
            return body if body["status"] == "under_review" else None

        seen = await eventually(under_review, timeout=30)
        assert [t["status"] for t in seen["timeline"]] == ["received", "under_review"]

        coordinator = stack.auth("coordinator", "pre-76540-coordination")
        situations = (
            await http.get(f"{stack.url('parcours')}/v1/situations", headers=coordinator)
        ).json()["items"]
        assert len(situations) == 1
        assert situations[0]["referral_ids"] == [referral["id"]]
        assert situations[0]["institution_ids"] == [SCHOOL]

        async def coordinator_feed() -> list[dict[str, Any]]:
            r = await http.get(f"{stack.url('notifications')}/v1/feed", headers=coordinator)
            return [i for i in r.json()["items"] if i["kind"].endswith("situation.opened.v1")]

        [item] = await eventually(coordinator_feed, timeout=30)
        assert situations[0]["id"] in item["link"]

        async def sender_feed() -> list[dict[str, Any]] | None:
            r = await http.get(f"{stack.url('notifications')}/v1/feed", headers=institution)
            items = r.json()["items"]
            return items if len(items) == 2 else None

        items = await eventually(sender_feed, timeout=30)
        assert all(referral["id"] in i["link"] for i in items)

        analyst = stack.auth("analyst", "anct")

        async def counted() -> Any:
            r = await http.get(
                f"{stack.url('reporting')}/v1/indicators",
                params={"school_year": "2026-2027"},
                headers=analyst,
            )
            values = {i["key"]: i["value"] for i in r.json()["indicators"]}
            return values["new_referrals"] == 1

        await eventually(counted, timeout=30)

        other_school = stack.auth("institution", "college-voisin")
        hidden = await http.get(referral_url, headers=other_school)
        assert hidden.status_code == 404

    await asyncio.sleep(0.5)
    await connection.close()
    # Nothing identifying crossed the broker, reached a log, or any database in clear.
    wire = b"\n".join(on_the_wire).decode()
    assert "referral.submitted" in wire
    assert "situation.opened" in wire
    places = {"broker": wire, "logs": stack.logs()}
    places |= {name: dump_database(stack.dsn(name)) for name in stack.config.databases}
    for where, text in places.items():
        for needle in IDENTIFYING:
            assert needle not in text, f"{needle!r} found in {where}"


async def test_referral_without_parental_agreement_is_refused_in_french(
    stack_factory: Any,
) -> None:
    stack = await stack_factory(services=["referral"])
    async with httpx.AsyncClient(timeout=10) as http:
        await register_school(http, stack)
        body = referral_body() | {"parents_agree": False}
        r = await http.post(
            f"{stack.url('referral')}/v1/referrals",
            json=body,
            headers=stack.auth("institution", SCHOOL),
        )
    assert r.status_code == 422
    assert r.json()["code"] == "parents_agreement_required"
    assert "accord des parents" in r.json()["message"]
    assert json.dumps(r.json(), ensure_ascii=False).count(CHILD_LAST) == 0
