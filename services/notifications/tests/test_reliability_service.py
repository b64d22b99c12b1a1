"""Exactly one delivery across restarts, reminders that escalate, the live feed."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import uvicorn

from relais_contracts.v1.parcours import (
    DeadlineOverdue,
    FollowupDue,
    FollowupRecorded,
    HandoverAccepted,
    HandoverRequested,
)
from relais_notifications.testing import WebhookReceiver, free_port

from .conftest import ServiceFactory, Tap, eventually
from .samples import example

pytestmark = pytest.mark.integration

PARTNER = "cmpp-rouen-rive-gauche"
COORDINATOR = ("coordinator", "pre-76540-coordination")


async def _true(value: bool) -> bool:
    return value


async def test_a_restart_mid_send_resends_the_same_delivery_and_settles_it_once(
    start_service: ServiceFactory, receiver: WebhookReceiver, tap_notifications: Tap
) -> None:
    first = await start_service(delivery_lease_s=1.0, webhook_timeout_s=30)
    partner = first.token("partner", PARTNER)
    created = await first.http.post("/v1/webhooks", json={"url": receiver.url}, headers=partner)
    secret = created.json()["secret"]
    receiver.delay_s = 30  # the first attempt hangs: the process dies before the answer
    await first.publish(example(HandoverRequested))
    await eventually(lambda: _true(len(receiver.received) == 1))
    assert first.stop is not None
    await first.stop()

    receiver.delay_s = 0
    second = await start_service(delivery_lease_s=1.0)
    await eventually(lambda: _true(len(receiver.received) == 2))
    first_id, second_id = (r.headers["webhook-id"] for r in receiver.received)
    assert first_id == second_id  # the receiver can tell it is the same notification
    assert len(receiver.verified(secret)) == 2

    async def settled() -> list[tuple[str, int]]:
        rows = await second.fetch("SELECT status, attempts FROM deliveries")
        return [(r["status"], r["attempts"]) for r in rows if r["status"] != "sending"]

    assert await eventually(settled) == [("delivered", 2)]

    def delivered() -> list[Any]:
        return [
            e
            for e in tap_notifications.seen
            if e["type"].endswith("notification.delivered.v1") and e["data"]["channel"] == "webhook"
        ]

    await eventually(lambda: _true(len(delivered()) == 1))
    await asyncio.sleep(0.5)
    assert len(delivered()) == 1


async def test_an_unanswered_handover_escalates_to_the_coordinators(
    start_service: ServiceFactory,
) -> None:
    service = await start_service(escalate_after_hours=0.5 / 3600)
    await service.publish(example(DeadlineOverdue, 0))
    coordinator = service.token(*COORDINATOR)

    async def escalated() -> list[str]:
        items = (await service.http.get("/v1/feed", headers=coordinator)).json()["items"]
        return [i["title"] for i in items]

    [title] = await eventually(escalated)
    assert title.startswith("Toujours en retard : réponse au relais R-E7F8A9B0")
    partner = await service.http.get("/v1/feed", headers=service.token("partner", PARTNER))
    assert partner.json()["items"][0]["title"].startswith("Rappel : réponse au relais")
    await asyncio.sleep(0.5)
    assert len(await escalated()) == 1  # escalated once


async def test_a_partner_answer_cancels_the_escalation(start_service: ServiceFactory) -> None:
    service = await start_service(escalate_after_hours=1.0 / 3600)
    await service.publish(example(DeadlineOverdue, 0))
    await service.publish(example(HandoverAccepted))
    referent = service.token(
        "referent", "pre-76540-equipe", sub="c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"
    )

    async def referent_heard() -> bool:
        items = (await service.http.get("/v1/feed", headers=referent)).json()["items"]
        return len(items) == 2

    await eventually(referent_heard)
    await asyncio.sleep(2.0)
    items = (await service.http.get("/v1/feed", headers=service.token(*COORDINATOR))).json()
    assert items["items"] == []
    rows = await service.fetch("SELECT resolved_at IS NOT NULL AS resolved FROM escalations")
    assert [r["resolved"] for r in rows] == [True]


async def test_the_feed_counts_unread_marks_read_and_streams_live(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            service.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    headers = service.token("partner", PARTNER)
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        events: list[tuple[str, Any]] = []

        async def listen() -> None:
            async with (
                httpx.AsyncClient(timeout=30) as client,
                client.stream(
                    "GET", f"http://127.0.0.1:{port}/v1/feed/stream", headers=headers
                ) as response,
            ):
                assert response.status_code == 200
                kind = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        events.append((kind, json.loads(line.split(":", 1)[1])))

        listener = asyncio.create_task(listen())
        await eventually(lambda: _true(("unread", {"unread": 0}) in events))
        await service.publish(example(HandoverRequested))
        await eventually(lambda: _true(any(k == "item" for k, _ in events)))
        item = next(v for k, v in events if k == "item")
        assert item["title"].startswith("Nouveau relais R-E7F8A9B0")
        await eventually(lambda: _true(("unread", {"unread": 1}) in events))
        listener.cancel()

        other = uuid.uuid4()
        await service.publish(example(HandoverRequested, handover_id=str(other)))
        await eventually(lambda: _unread(service, headers, 2))
        read = await service.http.post("/v1/feed/read", json={"ids": [item["id"]]}, headers=headers)
        assert read.json() == {"marked": 1, "unread": 1}
        # Someone else's items cannot be marked through one's own account.
        stranger = service.token("partner", "clas-saint-sever")
        none = await service.http.post("/v1/feed/read", json={}, headers=stranger)
        assert none.json() == {"marked": 0, "unread": 0}
        everything = await service.http.post("/v1/feed/read", json={}, headers=headers)
        assert everything.json() == {"marked": 1, "unread": 0}
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


async def test_the_live_feed_streams_items_committed_out_of_order_and_resumes_after_the_last(
    start_service: ServiceFactory,
) -> None:
    from datetime import UTC, datetime

    from relais_notifications.adapters import feed

    service = await start_service()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            service.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    headers = service.token("partner", PARTNER)
    url = f"http://127.0.0.1:{port}/v1/feed/stream"

    async def add(conn: Any, title: str) -> None:
        await feed.add_item(
            conn,
            item_id=uuid.uuid4(),
            tenant="pre-76540",
            recipient=f"org:{PARTNER}",
            title=title,
            link="https://parcours.example/v1/handovers/x",
            event_id=uuid.uuid4(),
            kind="fr.relais.handover.requested.v1",
            created_at=datetime.now(UTC),
        )

    async def listen(into: list[tuple[str, str, Any]], last_id: str | None = None) -> None:
        sent = headers | ({"Last-Event-ID": last_id} if last_id else {})
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", url, headers=sent) as response,
        ):
            kind, event_id = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("id:"):
                    event_id = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    into.append((kind, event_id, json.loads(line.split(":", 1)[1])))

    def titles(events: list[tuple[str, str, Any]]) -> list[str]:
        return [data["title"] for kind, _, data in events if kind == "item"]

    try:
        while not server.started:
            await asyncio.sleep(0.02)
        events: list[tuple[str, str, Any]] = []
        listener = asyncio.create_task(listen(events))
        await eventually(lambda: _true(any(k == "unread" for k, _, _ in events)))
        # A inserts first (earlier position) but commits after B.
        async with service.runtime.pool.acquire() as a, service.runtime.pool.acquire() as b:
            tx_a = a.transaction()
            await tx_a.start()
            await add(a, "A")
            async with b.transaction():
                await add(b, "B")
            await asyncio.sleep(0.5)  # the listener has had B's notification and read
            await tx_a.commit()
        await eventually(lambda: _true(sorted(titles(events)) == ["A", "B"]))
        assert titles(events) == ["A", "B"]  # in commit-safe order, each once
        listener.cancel()

        # Resuming after the last item received gives what came since, and only that.
        last_id = [i for k, i, _ in events if k == "item"][-1]
        async with service.runtime.pool.acquire() as conn, conn.transaction():
            await add(conn, "C")
        resumed: list[tuple[str, str, Any]] = []
        listener = asyncio.create_task(listen(resumed, last_id))
        await eventually(lambda: _true(titles(resumed) == ["C"]))
        await asyncio.sleep(0.3)
        assert titles(resumed) == ["C"]
        listener.cancel()
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


async def test_the_live_feed_wakes_for_an_item_notified_between_its_read_and_its_wait(
    start_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from relais_notifications.adapters import feed

    service = await start_service()
    hub = service.app.state.feed_hub
    # A NOTIFY sent before the hub's LISTEN is in place is heard by nobody (the stream then
    # wakes by its 5 s poll): under load the listener may still be connecting here.
    await asyncio.wait_for(hub.listening.wait(), 30)
    notified = asyncio.Event()

    class Spy(dict[str, asyncio.Event]):
        """The hub's wake-ups, telling the test when a notification was handled."""

        def pop(self, key: str, default: Any = None) -> Any:
            notified.set()
            return super().pop(key, default)

    hub._events = Spy()
    # No fallback poll shorter than the stream's 15 s wait: a missed wake-up then shows as an
    # item 15 s late, and the 10 s allowed below leaves room for a loaded machine (2 s did not).
    hub._poll = 60.0
    real_read = feed.items_since
    raced = asyncio.Event()

    async def read_then_commit(conn: Any, *args: Any, **kwargs: Any) -> Any:
        result = await real_read(conn, *args, **kwargs)
        if not raced.is_set():
            raced.set()
            # Committed after this read's snapshot, notified before the stream waits.
            async with service.runtime.pool.acquire() as other, other.transaction():
                await feed.add_item(
                    other,
                    item_id=uuid.uuid4(),
                    tenant="pre-76540",
                    recipient=f"org:{PARTNER}",
                    title="Entre lecture et attente",
                    link="https://parcours.example/v1/handovers/x",
                    event_id=uuid.uuid4(),
                    kind="fr.relais.handover.requested.v1",
                    created_at=datetime.now(UTC),
                )
            await asyncio.wait_for(notified.wait(), 10)
        return result

    monkeypatch.setattr(feed, "items_since", read_then_commit)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            service.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    headers = service.token("partner", PARTNER)
    titles: list[str] = []

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream(
                "GET", f"http://127.0.0.1:{port}/v1/feed/stream", headers=headers
            ) as response,
        ):
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "item":
                    titles.append(json.loads(line.split(":", 1)[1])["title"])

    try:
        while not server.started:
            await asyncio.sleep(0.02)
        listener = asyncio.create_task(listen())
        await eventually(lambda: _true(raced.is_set()))
        await asyncio.wait_for(notified.wait(), 10)
        # Before the stream's 15 s wait ends: the wake-up armed before the read was set.
        await eventually(lambda: _true(titles == ["Entre lecture et attente"]), timeout=10.0)
        listener.cancel()
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


async def _unread(service: Any, headers: dict[str, str], count: int) -> bool:
    body = (await service.http.get("/v1/feed", headers=headers)).json()
    return bool(body["unread"] == count)


async def test_an_overdue_review_already_with_the_coordinators_does_not_escalate(
    start_service: ServiceFactory,
) -> None:
    service = await start_service(escalate_after_hours=0.1 / 3600)
    await service.publish(example(DeadlineOverdue, 1))

    async def told() -> bool:
        items = (await service.http.get("/v1/feed", headers=service.token(*COORDINATOR))).json()
        return len(items["items"]) == 1

    await eventually(told)
    await asyncio.sleep(0.5)
    assert await service.fetch("SELECT 1 FROM escalations") == []


REFERENT = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"


def _followup_reminders() -> list[Any]:
    return [
        example(FollowupDue),
        example(DeadlineOverdue, 1, deadline_kind="followup", referent_id=REFERENT),
    ]


async def _coordinator_titles(service: Any) -> list[str]:
    items = (await service.http.get("/v1/feed", headers=service.token(*COORDINATOR))).json()
    return [i["title"] for i in items["items"]]


@pytest.mark.parametrize("reminder", _followup_reminders(), ids=["due", "overdue"])
@pytest.mark.parametrize("recorded_first", [False, True], ids=["then-recorded", "recorded-first"])
async def test_a_recorded_followup_cancels_the_escalation_of_its_reminder(
    start_service: ServiceFactory, reminder: Any, recorded_first: bool
) -> None:
    service = await start_service(escalate_after_hours=1.0 / 3600)
    # Either order: events may be handled out of order.
    events = [reminder, example(FollowupRecorded)]
    for event in reversed(events) if recorded_first else events:
        await service.publish(event)
    referent = service.token("referent", "pre-76540-equipe", sub=REFERENT)

    async def handled() -> bool:
        items = (await service.http.get("/v1/feed", headers=referent)).json()["items"]
        recorded = await service.fetch("SELECT 1 FROM followups_recorded")
        return len(items) == 1 and bool(recorded)

    await eventually(handled)
    await asyncio.sleep(2.0)
    assert await _coordinator_titles(service) == []
    rows = await service.fetch("SELECT resolved_at IS NOT NULL AS resolved FROM escalations")
    assert [r["resolved"] for r in rows] == [True]


async def test_a_followup_still_not_recorded_escalates_to_the_coordinators(
    start_service: ServiceFactory,
) -> None:
    service = await start_service(escalate_after_hours=0.5 / 3600)
    await service.publish(example(FollowupDue))
    [title] = await eventually(lambda: _coordinator_titles(service))
    assert title.startswith("Toujours en attente : suivi à six mois de la situation S-")
    # Recorded after the escalation: nothing more happens, and no error.
    await service.publish(example(FollowupRecorded))
    await eventually(lambda: service.fetch("SELECT 1 FROM followups_recorded"))
    assert len(await _coordinator_titles(service)) == 1
