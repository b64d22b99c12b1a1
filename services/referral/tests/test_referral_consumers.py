"""Service tests: the AMQP intake and the parcours events, over the real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import pytest
from joserfc.jwk import ECKey

from relais_contracts.base import Message
from relais_contracts.envelope import new_event
from relais_contracts.topology import (
    CLOUDEVENTS_CONTENT_TYPE,
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    PARKING_EXCHANGE,
    parking_queue,
)
from relais_contracts.v1.parcours import (
    ParcoursClosed,
    ReviewDecided,
    SituationOpened,
    SituationReferralAttached,
    SubjectErased,
)
from relais_contracts.v1.referral import ReferralFacts, SubmitReferral
from relais_referral.entrypoints.consumers import parcours_events
from relais_runtime import testing
from relais_runtime.consumer import Tx
from relais_runtime.parking import ParkingLot
from relais_runtime.sealing import seal
from relais_runtime.testing import eventually

pytestmark = pytest.mark.integration

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"
PARCOURS_EVENTS = "referral.parcours-events"
NOW = datetime.now(UTC)


async def publish(
    amqp_url: str, data: Message, *, source: str = "/relais/parcours", sequence: int = 1
) -> uuid.UUID:
    # A command names no aggregate: the sender's own reference (or a fresh id) stands for it.
    subject = data.ce_subject() or getattr(data, "external_ref", None) or str(uuid.uuid4())
    event = new_event(data, source=source, tenant=PRE, sequence=sequence, subject=subject)
    exchange = INTAKE_EXCHANGE if data.kind == "command" else EVENTS_EXCHANGE
    body = event.model_dump_json().encode()
    await publish_raw(amqp_url, body, event.routing_key(), str(event.id), exchange=exchange)
    return event.id


async def publish_raw(
    amqp_url: str, body: bytes, routing_key: str, message_id: str, exchange: str = INTAKE_EXCHANGE
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(
                body,
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )


async def parked(amqp_url: str, queue: str, message_id: uuid.UUID) -> dict[str, Any] | None:
    """The parking headers of one message, if it was parked (others are put back)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(parking_queue(queue), ensure=False)
        found = None
        seen = []
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            seen.append(message)
            if message.message_id == str(message_id):
                found = dict(message.headers)
        for message in seen:
            await message.nack(requeue=True)
    return found


async def parked_copies(amqp_url: str, queue: str, message_id: str, n: int) -> bool:
    """True once ``n`` copies of the message are in the parking queue (all put back)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(parking_queue(queue), ensure=False)
        seen = []
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            seen.append(message)
        for message in seen:
            await message.nack(requeue=True)
    return sum(m.message_id == message_id for m in seen) == n


async def timeline(app: Any, referral_id: str) -> list[str]:
    r = await app.http.get(f"/v1/referrals/{referral_id}", headers=app.auth("institution", SCHOOL))
    return [t["status"] for t in r.json()["timeline"]]


async def submit(app: Any, fiche: Any) -> dict[str, Any]:
    r = await app.http.post("/v1/referrals", json=fiche(), headers=app.auth("institution", SCHOOL))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def opened(referral_id: str) -> SituationOpened:
    return SituationOpened(
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_ids=[uuid.UUID(referral_id)],
        opened_at=NOW,
        review_due_on=date(2030, 1, 1),
    )


async def test_the_timeline_follows_the_pre_decision_with_its_reason(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    referral = await submit(app, fiche)
    await publish(app.amqp_url, opened(referral["id"]))
    await eventually(lambda: _has(app, referral["id"], "under_review"))
    decision = ReviewDecided(
        review_id=uuid.uuid4(),
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_ids=[uuid.UUID(referral["id"])],
        decision="redirect",
        redirected_to="CMPP Rouen rive gauche",
        redirect_category="cmpp",
        decided_at=NOW,
    )
    await publish(app.amqp_url, decision)
    await eventually(lambda: _has(app, referral["id"], "redirected"))
    view = (
        await app.http.get(
            f"/v1/referrals/{referral['id']}", headers=app.auth("institution", SCHOOL)
        )
    ).json()
    assert view["timeline"][-1]["redirected_to"] == "CMPP Rouen rive gauche"
    changes = [e["data"]["status"] for e in await app.outbox("referral.status_changed.v1")]
    assert changes == ["received", "under_review", "redirected"]
    # A late situation.opened never moves a final referral back.
    await publish(app.amqp_url, opened(referral["id"]))
    await asyncio.sleep(0.5)
    assert await timeline(app, referral["id"]) == ["received", "under_review", "redirected"]


async def test_parcours_facts_handled_together_move_the_timeline_in_their_order(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    referral = await submit(app, fiche)
    decision = ReviewDecided(
        review_id=uuid.uuid4(),
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_ids=[uuid.UUID(referral["id"])],
        decision="take_up",
        decided_at=NOW,
    )
    # Delivered together (one batch, one transaction): opened, decided, then a late copy
    # of opened, which must not move the decided referral back.
    facts = [opened(referral["id"]), decision, opened(referral["id"])]
    events = [
        new_event(data, source="/relais/parcours", tenant=PRE, sequence=n)
        for n, data in enumerate(facts, start=1)
    ]
    handler = parcours_events(app.runtime, app.keys)
    async with app.runtime.pool.acquire() as conn, conn.transaction():
        await handler([Tx(conn, e, app.runtime.source, e.routing_key()) for e in events])
    assert await timeline(app, referral["id"]) == ["received", "under_review", "taken_up"]


async def test_a_second_referral_joins_a_parcours_then_closes_with_it(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    referral = await submit(app, fiche)
    attached = SituationReferralAttached(
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_id=uuid.UUID(referral["id"]),
        stage="in_parcours",
        attached_at=NOW,
    )
    await publish(app.amqp_url, attached)
    await eventually(lambda: _has(app, referral["id"], "taken_up"))
    closed = ParcoursClosed(
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_ids=[uuid.UUID(referral["id"])],
        exit_reason="objectives_met",
        axes=["schooling"],
        started_on=date(2026, 1, 5),
        closed_at=NOW,
        final_review_held=True,
        followup_due_on=date(2027, 5, 1),
    )
    await publish(app.amqp_url, closed)
    await eventually(lambda: _has(app, referral["id"], "closed"))
    assert await timeline(app, referral["id"]) == ["received", "taken_up", "closed"]


async def test_an_erased_subject_leaves_only_the_timeline(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    referral = await submit(app, fiche)
    [submitted] = await app.outbox("referral.submitted.v1")
    subject_id = uuid.UUID(submitted["data"]["subject_id"])
    erased = SubjectErased(subject_id=subject_id, reason="data_subject_request", erased_at=NOW)
    await publish(app.amqp_url, erased, sequence=1)

    async def gone() -> bool:
        async with app.runtime.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) = 0 FROM subjects"))

    await eventually(gone)
    view = (
        await app.http.get(
            f"/v1/referrals/{referral['id']}", headers=app.auth("institution", SCHOOL)
        )
    ).json()
    assert view["referral"] is None
    assert view["timeline"][0]["status"] == "received"
    # The same child referred again is a new subject: the old link was forgotten.
    again = await submit(app, fiche)
    assert await app.known_subject(again["id"]) is False


async def test_the_sender_of_a_referral_the_erasure_left_undecided_is_told_it_was_not_kept(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    followed = await submit(app, fiche)
    late = await submit(app, fiche)  # still on its way to parcours when the child is erased
    attached = SituationReferralAttached(
        situation_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        referral_id=uuid.UUID(followed["id"]),
        stage="in_parcours",
        attached_at=NOW,
    )
    await publish(app.amqp_url, attached)
    await eventually(lambda: _has(app, followed["id"], "taken_up"))
    [submitted] = [
        e
        for e in await app.outbox("referral.submitted.v1")
        if e["data"]["referral_id"] == late["id"]
    ]
    subject_id = uuid.UUID(submitted["data"]["subject_id"])
    erased = SubjectErased(
        subject_id=subject_id,
        situation_ids=[uuid.uuid4()],
        referral_ids=[uuid.UUID(followed["id"]), uuid.UUID(late["id"])],
        reason="data_subject_request",
        erased_at=NOW,
    )
    await publish(app.amqp_url, erased, sequence=2)
    await eventually(lambda: _has(app, late["id"], "declined"))
    view = (
        await app.http.get(f"/v1/referrals/{late['id']}", headers=app.auth("institution", SCHOOL))
    ).json()
    assert view["referral"] is None
    assert view["timeline"][-1]["reason"] == "subject_erased"
    [told] = [
        e["data"]
        for e in await app.outbox("referral.status_changed.v1")
        if e["data"]["status"] == "declined"
    ]
    assert told == told | {"referral_id": late["id"], "reason": "subject_erased"}
    # A referral the review decided keeps its timeline: nothing is rewritten.
    assert await timeline(app, followed["id"]) == ["received", "taken_up"]


def command(app: Any, fiche: Any, **changes: Any) -> SubmitReferral:
    body = fiche()
    [public] = app.keys.intake_public_jwks()["keys"]
    identity = {
        "child": {k: body["child"][k] for k in ("first_name", "last_name", "birth_date")},
        "guardians": body["guardians"],
        "referrer": body["referrer"],
        "description": body["reasons"]["description"],
    } | changes.pop("identity", {})
    values: dict[str, Any] = {
        "pre_id": PRE,
        "institution_id": SCHOOL,
        "external_ref": "ENT-2026-0042",
        "parents_informed": True,
        "parents_agree": True,
        "facts": ReferralFacts(
            age_years=9,
            sex="female",
            school_level="ce2",
            lives_in_qpv="yes",
            source_category="school",
            reason_categories=["learning_difficulties"],
            axes=["schooling"],
        ),
        "sealed": seal(identity, ECKey.import_key(public)),
    }
    return SubmitReferral(**(values | changes))


async def test_a_referral_over_amqp_is_the_same_referral_as_over_http(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    await publish(app.amqp_url, command(app, fiche), source=f"/institutions/{SCHOOL}")

    async def listed() -> list[dict[str, Any]]:
        r = await app.http.get("/v1/referrals", headers=app.auth("institution", SCHOOL))
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    [item] = await eventually(listed)
    view = (
        await app.http.get(f"/v1/referrals/{item['id']}", headers=app.auth("institution", SCHOOL))
    ).json()
    assert view["channel"] == "amqp"
    assert view["external_ref"] == "ENT-2026-0042"
    assert view["referral"]["child"]["school_level"] == "ce2"
    assert view["referral"]["reasons"]["description"] == "Difficultés de lecture marquées."
    # Then the same child over HTTP is a known subject.
    assert await app.known_subject((await submit(app, fiche))["id"]) is True


async def test_a_command_published_again_by_its_sender_makes_one_referral(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    for _ in range(2):  # two publications, two message ids, one external_ref
        await publish(app.amqp_url, command(app, fiche), source=f"/institutions/{SCHOOL}")
    await eventually(lambda: _outbox_count(app, "referral.submitted.v1", 1))
    await asyncio.sleep(1)
    assert len(await app.outbox("referral.submitted.v1")) == 1
    # The same reference for another fiche is refused, parked with its reason.
    other = command(app, fiche, parents_informed=True, facts=FACTS_OTHER)
    message_id = await publish(app.amqp_url, other, source=f"/institutions/{SCHOOL}")
    headers = await eventually(lambda: parked(app.amqp_url, "referral.intake", message_id))
    assert headers["x-relais-parked-reason"] == "idempotency_key_reused"


async def _outbox_count(app: Any, suffix: str, n: int) -> bool:
    return len(await app.outbox(suffix)) == n


FACTS_OTHER = ReferralFacts(
    age_years=9,
    sex="female",
    school_level="cm1",
    lives_in_qpv="no",
    source_category="school",
    reason_categories=["speech"],
    axes=["health"],
)


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"parents_agree": False}, "parents_agreement_required", ""),
        ({"sealed": "a.b.c.d.e"}, "sealed_unreadable", ""),
        (
            {
                "identity": {
                    "child": {"first_name": "x", "last_name": "y", "birth_date": "2001-01-01"}
                }
            },
            "invalid_referral",
            "child.birth_date:age_out_of_range",
        ),
        ({"institution_id": "college-voisin"}, "institution_mismatch", ""),
    ],
)
async def test_an_invalid_command_is_parked_with_its_reason(
    app: Any, fiche: Any, changes: dict[str, Any], reason: str, detail: str
) -> None:
    await app.register(SCHOOL)
    message_id = await publish(
        app.amqp_url, command(app, fiche, **changes), source=f"/institutions/{SCHOOL}"
    )
    headers = await eventually(lambda: parked(app.amqp_url, "referral.intake", message_id))
    assert headers["x-relais-parked-reason"] == reason
    assert detail in headers["x-relais-error"]
    assert "Lina" not in str(headers)
    async with app.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM referrals") == 0
    # The sender is told, through notifications, with codes and field names only.
    [told] = await app.outbox("referral.submit_rejected.v1")
    assert told["tenant"] == PRE
    assert told["data"]["command_id"] == str(message_id)
    assert told["data"]["institution_id"] == SCHOOL
    assert told["data"]["external_ref"] == "ENT-2026-0042"
    assert told["data"]["code"] == reason
    if detail:
        assert detail in told["data"]["fields"]
    assert "Lina" not in str(told)
    assert "Martin" not in str(told)


async def test_a_sender_is_told_once_that_its_unreadable_command_was_parked(app: Any) -> None:
    await app.register(SCHOOL)
    await publish_raw(app.amqp_url, b"{not json", f"referral.submit.v1.{SCHOOL}", "ent-cmd-1")
    headers = await eventually(lambda: parked(app.amqp_url, "referral.intake", "ent-cmd-1"))
    assert headers["x-relais-parked-reason"] == "invalid_json"
    [told] = await app.outbox("referral.submit_rejected.v1")
    assert told["data"]["code"] == "invalid_json"
    assert told["data"]["command_id"] == "ent-cmd-1"
    assert told["data"]["external_ref"] is None
    # Published again with the same id (a replay from the parking queue): parked, not re-told.
    await publish_raw(app.amqp_url, b"{not json", f"referral.submit.v1.{SCHOOL}", "ent-cmd-1")
    await eventually(lambda: parked_copies(app.amqp_url, "referral.intake", "ent-cmd-1", 2))
    assert len(await app.outbox("referral.submit_rejected.v1")) == 1


async def test_a_command_in_another_institutions_name_is_refused_and_its_real_sender_told(
    app: Any, fiche: Any
) -> None:
    other = "college-voisin"
    await app.register(SCHOOL)
    await app.register(other)
    # The school's broker user may only write its own routing key; the body claims the
    # neighbour's identity (envelope source and command), which must not be believed.
    event = new_event(
        command(app, fiche, institution_id=other),
        source=f"/institutions/{other}",
        tenant=PRE,
        sequence=1,
        subject="ENT-2026-0042",
    )
    await publish_raw(
        app.amqp_url,
        event.model_dump_json().encode(),
        f"referral.submit.v1.{SCHOOL}",
        str(event.id),
    )
    headers = await eventually(lambda: parked(app.amqp_url, "referral.intake", event.id))
    assert headers["x-relais-parked-reason"] == "institution_mismatch"
    [told] = await app.outbox("referral.submit_rejected.v1")
    assert told["data"]["institution_id"] == SCHOOL
    async with app.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM referrals") == 0


async def test_an_unregistered_sender_over_amqp_is_parked(app: Any, fiche: Any) -> None:
    message_id = await publish(app.amqp_url, command(app, fiche), source=f"/institutions/{SCHOOL}")
    headers = await eventually(lambda: parked(app.amqp_url, "referral.intake", message_id))
    assert headers["x-relais-parked-reason"] == "institution_not_registered"
    # Nobody registered to tell: the operator sees it in the parking queue.
    assert await app.outbox("referral.submit_rejected.v1") == []


async def _has(app: Any, referral_id: str, status: str) -> bool:
    return status in await timeline(app, referral_id)


async def test_an_erasure_drops_the_parked_messages_about_the_child_and_keeps_the_others(
    app: Any,
) -> None:
    child, other = uuid.uuid4(), uuid.uuid4()
    ids = {f"about-{child}": child, f"about-{other}": other}
    dlq = parking_queue(PARCOURS_EVENTS)
    before = await testing.message_count(app.amqp_url, dlq)  # other tests' parked messages
    await park_about(app.amqp_url, PARCOURS_EVENTS, ids)
    assert await testing.message_count(app.amqp_url, dlq) == before + 2
    erased = SubjectErased(subject_id=child, reason="data_subject_request", erased_at=NOW)
    await publish(app.amqp_url, erased)

    async def one_dropped() -> bool:
        return await testing.message_count(app.amqp_url, dlq) == before + 1

    await eventually(one_dropped)
    left = {p.message_id for p in await ParkingLot(app.amqp_url).browse(PARCOURS_EVENTS)}
    assert f"about-{other}" in left
    assert f"about-{child}" not in left
    await ParkingLot(app.amqp_url).purge(PARCOURS_EVENTS, f"about-{other}")


async def park_about(amqp_url: str, queue: str, subjects: dict[str, uuid.UUID]) -> None:
    """Park one event per message id in ``queue``'s parking queue, naming its child."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        parking = await channel.get_exchange(PARKING_EXCHANGE)
        for message_id, subject_id in subjects.items():
            body = {
                "type": "fr.relais.situation.opened.v1",
                "subject": str(uuid.uuid4()),
                "data": {"subject_id": str(subject_id)},
            }
            await parking.publish(
                aio_pika.Message(json.dumps(body).encode(), message_id=message_id),
                routing_key=queue,
                mandatory=True,
            )
