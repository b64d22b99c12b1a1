"""What a daily digest carried is recorded per notice: delivered (or failed) once each."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relais_contracts.v1.parcours import HandoverRequested
from relais_notifications.service.digest import DIGEST_TYPE, send_digests

from .conftest import Service, ServiceFactory, SmtpFactory, Tap, eventually
from .samples import example

pytestmark = pytest.mark.integration

PARTNER = "cmpp-rouen-rive-gauche"
DELIVERED = "fr.relais.notification.delivered.v1"
FAILED = "fr.relais.notification.failed.v1"


async def _true(value: bool) -> bool:
    return value


async def _hold_two(service: Service) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A partner's digest subscription and two notices held for it (their event ids)."""
    partner = service.token("partner", PARTNER)
    r = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "accueil@cmpp.example", "digest": True},
        headers=partner,
    )
    assert r.status_code == 201, r.text
    events = [
        await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))
        for _ in range(2)
    ]

    async def held() -> bool:
        rows = await service.fetch("SELECT 1 FROM deliveries WHERE status = 'digested'")
        return len(rows) == 2

    await eventually(held)
    return uuid.UUID(r.json()["id"]), [e.id for e in events]


def _outcomes(tap: Tap, kind: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The digest's own events of ``kind`` and those of the notices it carried (by e-mail:
    each notice also reached the partner's feed, and that is recorded too)."""
    seen = [e["data"] for e in tap.seen if e["type"] == kind and e["data"]["channel"] == "email"]
    return (
        [d for d in seen if d["cause_type"] == DIGEST_TYPE],
        [d for d in seen if d["cause_type"] != DIGEST_TYPE],
    )


async def _items(service: Service) -> dict[str, Any]:
    rows = await service.fetch(
        "SELECT id, event_id, delivered_at, last_failure FROM deliveries WHERE status = 'in_digest'"
    )
    return {str(r["id"]): r for r in rows}


async def test_each_notice_a_digest_carried_is_recorded_delivered_once_for_its_own_event(
    start_service: ServiceFactory, start_smtp: SmtpFactory, tap_notifications: Tap
) -> None:
    # Greylisted once: the digest is retried, its notices are told only when it is sent.
    sink = start_smtp(rcpt_replies=["450 4.2.0 Greylisted, try again later"])
    service = await start_service(smtp_port=sink.port, delivery_backoff_s=[0.3, 0.3])
    subscription_id, event_ids = await _hold_two(service)
    assert await send_digests(service.runtime, service.settings, datetime.now(UTC) + timedelta(1))
    await eventually(lambda: _true(len(sink.messages) == 1))

    await eventually(lambda: _true(len(_outcomes(tap_notifications, DELIVERED)[1]) == 2))
    await asyncio.sleep(0.5)  # a repeat would have come by now
    [digest], items = _outcomes(tap_notifications, DELIVERED)
    assert digest["attempts"] == 2
    stored = await _items(service)
    assert {d["notification_id"] for d in items} == set(stored)
    assert sorted(d["cause_event_id"] for d in items) == sorted(str(i) for i in event_ids)
    for d in items:
        row = stored[d["notification_id"]]
        assert d["cause_event_id"] == str(row["event_id"])
        assert d["cause_type"] == "fr.relais.handover.requested.v1"
        assert d["channel"] == "email"
        assert d["recipient_org_id"] == PARTNER
        assert d["recipient_user_id"] is None  # an organisation's subscription
        assert d["subscription_id"] == str(subscription_id)
        assert d["attempts"] == 2  # the digest's
        assert d["delivered_at"] == digest["delivered_at"]
        assert row["delivered_at"] is not None
    # The retried attempt told nobody's notice that it failed: only the digest's own.
    digest_failed, items_failed = _outcomes(tap_notifications, FAILED)
    assert [(d["attempts"], d["will_retry"]) for d in digest_failed] == [(1, True)]
    assert items_failed == []


async def test_a_digest_resent_after_a_restart_mid_send_records_its_notices_once(
    start_service: ServiceFactory, start_smtp: SmtpFactory, tap_notifications: Tap
) -> None:
    # The relay hangs on the first digest: the process dies before it answers.
    sink = start_smtp(data_delays=[30.0])
    first = await start_service(smtp_port=sink.port, delivery_lease_s=1.0, smtp_timeout_s=30)
    _, event_ids = await _hold_two(first)
    assert await send_digests(first.runtime, first.settings, datetime.now(UTC) + timedelta(1))
    await eventually(lambda: _true(sink.data_received == 1))
    assert first.stop is not None
    await first.stop()

    second = await start_service(smtp_port=sink.port, delivery_lease_s=1.0)
    await eventually(lambda: _true(len(sink.messages) == 1))
    ids = {m["Message-ID"] for m in sink.messages}
    assert len(ids) == 1

    await eventually(lambda: _true(len(_outcomes(tap_notifications, DELIVERED)[1]) == 2))
    await asyncio.sleep(0.5)
    [digest], items = _outcomes(tap_notifications, DELIVERED)
    assert digest["attempts"] == 2
    assert sorted(d["cause_event_id"] for d in items) == sorted(str(i) for i in event_ids)
    assert {d["attempts"] for d in items} == {2}
    assert set(await _items(second)) == {d["notification_id"] for d in items}

    # Settling the same claim again (a late answer from the first attempt) adds nothing.
    from relais_notifications.adapters.channels import Sent

    [row] = await second.fetch("SELECT * FROM deliveries WHERE event_type = $1", DIGEST_TYPE)
    async with second.runtime.pool.acquire() as conn, conn.transaction():
        await second.app.state.dispatcher._settle(conn, dict(row), Sent())
    await asyncio.sleep(0.5)
    assert len(_outcomes(tap_notifications, DELIVERED)[1]) == 2


async def test_when_a_digest_is_given_up_each_notice_it_carried_is_recorded_failed(
    start_service: ServiceFactory, start_smtp: SmtpFactory, tap_notifications: Tap
) -> None:
    sink = start_smtp(rcpt_replies=["550 5.1.1 No such user"])
    service = await start_service(smtp_port=sink.port, delivery_backoff_s=[0.1, 0.1])
    subscription_id, event_ids = await _hold_two(service)
    assert await send_digests(service.runtime, service.settings, datetime.now(UTC) + timedelta(1))

    await eventually(lambda: _true(len(_outcomes(tap_notifications, FAILED)[1]) == 2))
    await asyncio.sleep(0.5)
    [digest], items = _outcomes(tap_notifications, FAILED)
    assert (digest["failure"], digest["will_retry"]) == ("rejected", False)
    stored = await _items(service)
    assert {d["notification_id"] for d in items} == set(stored)
    assert sorted(d["cause_event_id"] for d in items) == sorted(str(i) for i in event_ids)
    for d in items:
        assert d["channel"] == "email"
        assert d["subscription_id"] == str(subscription_id)
        assert (d["failure"], d["will_retry"], d["attempts"]) == ("rejected", False, 1)
        assert d["http_status"] is None
        assert stored[d["notification_id"]]["last_failure"] == "rejected"
    assert _outcomes(tap_notifications, DELIVERED) == ([], [])
