"""A demo school year of situations through the real services, read back as indicators.

Referrals go through the referral service's HTTP API; parcours opens the situations; the
rest of each parcours (review, consent, handovers, closure, consent withdrawal) is
published on the test stack's broker as parcours would, for the situations parcours
opened. Reporting must show the expected figures, with small cells suppressed, the same
after a rebuild, and only to the readers allowed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_contracts.v1 import parcours as p
from relais_reporting.domain.periods import PARIS
from tests.e2e.test_backbone_flow import eventually, referral_body, register_school

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE, OTHER_PRE = "pre-76540", "pre-14118"
SCHOOL, SOCIAL = "ecole-jules-ferry-rouen", "ccas-rouen"
NETWORK = "reseau-pre-normandie"
YEAR = "2026-2027"
FIRST_NAMES = ["Lina", "Adam", "Inès", "Noah", "Jade", "Rayan", "Lou", "Sami", "Maya", "Ilyes",
               "Nour", "Yanis", "Sara", "Eden"]  # fmt: skip


def child(i: int) -> dict[str, Any]:
    """Children 0-9 come from the school, 10-13 from the social service; 0-6 live in a QPV."""
    body = referral_body()
    body["child"] |= {
        "first_name": FIRST_NAMES[i],
        "last_name": f"Demo{chr(65 + i)}",
        "birth_date": f"{2012 + i % 9}-0{1 + i % 9}-1{i % 10}",
        "sex": "female" if i % 2 else "male",
        "lives_in_qpv": "yes" if i <= 6 or i == 12 else "no" if i <= 11 else "unknown",
    }
    return body


class Parcours:
    """Publishes parcours events on the stack's broker, one sequence per aggregate."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.channel = channel
        self.sequences: dict[str, int] = {}

    async def publish(self, data: Message, *, sequence: int | None = None) -> CloudEvent[Any]:
        subject = data.ce_subject()
        assert subject is not None
        self.sequences[subject] = sequence or self.sequences.get(subject, 1) + 1
        event = new_event(
            data, source="/relais/parcours", tenant=PRE, sequence=self.sequences[subject]
        )
        exchange = await self.channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type="application/cloudevents+json",
                message_id=str(event.id),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.routing_key(),
        )
        return event


async def watch_situations(
    amqp_url: str,
) -> tuple[aio_pika.abc.AbstractConnection, list[dict[str, Any]]]:
    opened: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(EVENTS_EXCHANGE, routing_key="situation.opened.v1.*")

    async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        opened.append(json.loads(message.body)["data"])
        await message.ack()

    await queue.consume(keep)
    return connection, opened


async def drive_the_year(
    parcours: Parcours, situations: list[dict[str, Any]], by_referral: dict[str, int]
) -> int:
    """Review, consent, handovers, closures; returns how many events were published."""
    now = datetime.now(UTC)
    published = 0
    for s in situations:
        i = by_referral[s["referral_ids"][0]]
        ids = {"situation_id": s["situation_id"], "subject_id": s["subject_id"]}
        decided = now - timedelta(days=20)
        if i >= 12:
            await parcours.publish(
                p.ReviewDecided(
                    review_id=uuid.uuid4(),
                    referral_ids=s["referral_ids"],
                    decision="decline",
                    decline_reason="outside_territory",
                    decided_at=decided,
                    **ids,
                )
            )  # type: ignore[arg-type]
            published += 1
            continue
        await parcours.publish(
            p.ReviewDecided(
                review_id=uuid.uuid4(),
                referral_ids=s["referral_ids"],
                decision="take_up",
                axes=["schooling"] if i % 3 else ["schooling", "health"],
                decided_at=decided,
                **ids,
            )
        )  # type: ignore[arg-type]
        consent = uuid.uuid4()
        await parcours.publish(
            p.ConsentGiven(
                consent_id=consent, form="signed", given_at=decided + timedelta(days=4), **ids
            )
        )  # type: ignore[arg-type]
        published += 2
        if i < 6:  # six handovers to a CMPP, answered two days later
            handover = {
                "handover_id": uuid.uuid4(),
                "partner_id": "cmpp-rouen",
                "referent_id": uuid.uuid4(),
                **ids,
            }
            asked = decided + timedelta(days=5)
            await parcours.publish(
                p.HandoverRequested.model_validate(
                    {
                        **handover,
                        "action_id": uuid.uuid4(),
                        "axis": "health",
                        "partner_category": "cmpp",
                        "consent_id": consent,
                        "requested_at": asked,
                        "response_due_on": (asked + timedelta(days=14)).date(),
                    }
                ),
                sequence=1,
            )
            await parcours.publish(
                p.HandoverAccepted.model_validate(
                    {**handover, "accepted_at": asked + timedelta(days=2)}
                )
            )
            published += 2
        if i < 5:  # five parcours closed, objectives met
            await parcours.publish(
                p.ParcoursClosed(
                    referral_ids=s["referral_ids"],
                    exit_reason="objectives_met",
                    axes=["schooling"],
                    started_on=(decided + timedelta(days=4)).date(),
                    closed_at=now - timedelta(days=1),
                    final_review_held=True,
                    followup_due_on=(now + timedelta(days=180)).date(),
                    **ids,
                )
            )  # type: ignore[arg-type]
            published += 1
        if i == 11:  # one consent withdrawn
            await parcours.publish(
                p.ConsentWithdrawn(consent_id=consent, withdrawn_at=now - timedelta(days=2), **ids)
            )  # type: ignore[arg-type]
            published += 1
    return published


def figures(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in body["indicators"]}


def cells(figure: dict[str, Any]) -> dict[str, Any]:
    return {c["key"]: (None if c["suppressed"] else c["value"]) for c in figure["cells"]}


async def test_a_demo_year_gives_the_expected_indicators_with_small_cells_suppressed(
    stack_factory: Any,
) -> None:
    stack = await stack_factory(
        extra_env={
            "REPORTING_SMALL_CELL_THRESHOLD": "5",
            "REPORTING_REGIONS": json.dumps({"normandie": [PRE, OTHER_PRE]}),
            "REPORTING_ANALYST_REGIONS": json.dumps({NETWORK: ["normandie"]}),
        }
    )
    watcher, opened = await watch_situations(stack.amqp_url)
    admin = stack.auth("admin", "pre-76540-coordination")
    analyst = stack.auth("analyst", "anct-normandie")
    reporting = stack.url("reporting")
    async with httpx.AsyncClient(timeout=15) as http:
        await register_school(http, stack)
        r = await http.put(
            f"{stack.url('referral')}/v1/institutions/{SOCIAL}",
            json={
                "id": SOCIAL,
                "pre_id": PRE,
                "name": "CCAS de Rouen",
                "category": "social_service",
            },
            headers=admin,
        )
        assert r.status_code == 200, r.text
        by_referral: dict[str, int] = {}
        for i in range(14):
            sender = stack.auth("institution", SCHOOL if i < 10 else SOCIAL)
            r = await http.post(
                f"{stack.url('referral')}/v1/referrals", json=child(i), headers=sender
            )
            assert r.status_code == 201, r.text
            by_referral[r.json()["id"]] = i

        async def all_opened() -> bool:
            return len(opened) == 14

        await eventually(all_opened, timeout=60)
        channel = await watcher.channel()
        published = await drive_the_year(Parcours(channel), opened, by_referral)

        last: list[dict[str, Any]] = []

        async def settled() -> dict[str, Any] | None:
            r = await http.get(
                f"{reporting}/v1/indicators", params={"school_year": YEAR}, headers=analyst
            )
            body = r.json()
            f = figures(body)
            done = (
                f["exit_reasons"]["value"] == 5
                and f["delay_handover_answer"]["count"] == 6
                and f["children_followed"]["value"] == 12
                and f["delay_referral_review"]["count"] == 14
            )
            # Under load the last events may still be in flight: wait until every queue is
            # drained and two reads agree.
            stable = done and last == [body] and stack.broker_idle()
            last[:] = [body]
            return body if stable else None

        body = await eventually(settled, timeout=60)
        f = figures(body)
        assert body["pre_id"] == PRE
        assert body["small_cell_threshold"] == 5
        assert f["new_referrals"]["value"] == 14
        # 10 from the school, 4 from the social service: 4 is hidden, and so is 10, or
        # 14 - 10 would give it away.
        assert f["referral_sources"]["value"] == 14
        assert cells(f["referral_sources"]) == {"school": None, "social_service": None}
        assert f["children_followed"]["value"] == 12
        assert cells(f["qpv_share"]) == {"yes": 7, "no": 5, "unknown": 0}
        assert f["qpv_share"]["value"] == pytest.approx(58.3)
        assert f["exit_reasons"]["value"] == 5
        assert cells(f["exit_reasons"]) == {"objectives_met": 5}
        assert f["delay_handover_answer"]["value"] == pytest.approx(2.0)
        assert cells(f["delay_handover_answer"]) == {"cmpp": 2.0}
        assert f["consents_withdrawn"]["value"] is None
        assert f["consents_withdrawn"]["suppressed"] is True
        assert f["delay_referral_review"]["count"] == 14
        # No count from 1 to 4 is ever shown, in any table.
        for figure in f.values():
            if figure["unit"] in {"jours", "%"}:
                continue
            for value in [figure["value"], *cells(figure).values()]:
                assert value is None or value == 0 or value >= 5, figure["key"]

        # A rebuild from the log reproduces the live figures exactly.
        command = ["uv", "run", "relais-reporting", "rebuild", "--quiet"]
        done = subprocess.run(
            [*command, "--dsn", stack.dsn("reporting")], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "événements relus" in done.stdout
        again = await http.get(
            f"{reporting}/v1/indicators", params={"school_year": YEAR}, headers=analyst
        )
        assert again.json() == body

        # As of today, as known today: folded again from the log, the same figures.
        today = datetime.now(PARIS).date().isoformat()
        pinned = {"school_year": YEAR, "as_of": today, "known_on": today}
        r = await http.get(f"{reporting}/v1/indicators", params=pinned, headers=analyst)
        assert r.json()["indicators"] == body["indicators"]
        assert (r.json()["as_of"], r.json()["known_on"]) == (today, today)
        r = await http.get(
            f"{reporting}/v1/indicators", params={"school_year": "2026"}, headers=analyst
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "query.school_year"

        # CSV for a French spreadsheet: BOM, semicolons, suppressed cells empty and flagged.
        r = await http.get(
            f"{reporting}/v1/indicators.csv",
            params={"school_year": YEAR, "separator": ";", "bom": "true"},
            headers=analyst,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        text = r.content.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
        school = next(
            x for x in rows if x["indicateur"] == "referral_sources" and x["categorie"] == "school"
        )
        assert (school["valeur"], school["secret_statistique"]) == ("", "oui")
        qpv = next(x for x in rows if x["indicateur"] == "qpv_share" and x["categorie"] == "")
        assert qpv["valeur"] == "58,3"

        # No page of its own any more: the web pages draw the dashboard behind the common
        # sign-in (tests/e2e/test_web_staff_pages.py), and a cookie is no way in.
        retired = await http.get(f"{reporting}/tableau-de-bord", headers=analyst)
        assert retired.status_code == 404
        token = stack.token("analyst", "anct-demo")
        cookie_only = await http.get(
            f"{reporting}/v1/indicators",
            params={"school_year": YEAR},
            cookies={"relais_reporting_token": token},
        )
        assert cookie_only.status_code == 401

        # Access: a coordinator reads its own PRE only; the network's analyst reads the region.
        other = stack.auth("coordinator", "pre-14118-coordination", tenant=OTHER_PRE)
        r = await http.get(
            f"{reporting}/v1/indicators", params={"school_year": YEAR, "pre_id": PRE}, headers=other
        )
        assert r.status_code == 403
        r = await http.get(
            f"{reporting}/v1/regions/normandie/indicators",
            params={"school_year": YEAR},
            headers=other,
        )
        assert r.status_code == 403
        network = stack.auth("analyst", NETWORK, tenant=OTHER_PRE)
        r = await http.get(
            f"{reporting}/v1/regions/normandie/indicators",
            params={"school_year": YEAR},
            headers=network,
        )
        assert r.status_code == 200, r.text
        assert figures(r.json())["new_referrals"]["value"] == 14
        r = await http.get(
            f"{reporting}/v1/indicators",
            params={"school_year": YEAR, "pre_id": PRE},
            headers=network,
        )
        assert r.status_code == 200
        r = await http.get(f"{reporting}/v1/indicator-scopes", headers=network)
        assert r.json() == {"pre_ids": sorted([OTHER_PRE, PRE]), "regions": ["normandie"]}
        r = await http.get(f"{reporting}/v1/indicator-definitions", headers=other)
        assert [d["key"] for d in r.json()] == [i["key"] for i in body["indicators"]]
        referent = stack.auth("referent", "pre-76540-coordination")
        r = await http.get(
            f"{reporting}/v1/indicators", params={"school_year": YEAR}, headers=referent
        )
        assert r.status_code == 403
    assert published > 30
    await asyncio.sleep(0.2)
    await watcher.close()
