"""The end-to-end load benchmark's client: pre-built requests, fixed keep-alive connections."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from benchmarks.e2e_load import Posted, build_requests, client, post
from relais_runtime.testing import free_port


class FakeIntake:
    """Answers like the referral service: 201 with an id, or 503 with ``Retry-After``."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, object], dict[str, str], object]] = []
        self.busy = 0
        self.most_busy = 0
        self.refuse = False
        self.delay_s = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            body = await request.json()
            peer = request.transport.get_extra_info("peername") if request.transport else None
            self.seen.append((body, dict(request.headers), peer))
            await asyncio.sleep(self.delay_s)
            if self.refuse:
                return web.json_response(
                    {"detail": "Service saturé"}, status=503, headers={"Retry-After": "5"}
                )
            return web.json_response({"id": str(uuid.uuid4())}, status=201)
        finally:
            self.busy -= 1


@pytest.fixture
async def intake() -> AsyncIterator[tuple[FakeIntake, str]]:
    fake = FakeIntake()
    app = web.Application()
    app.router.add_post("/v1/referrals", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}/v1/referrals"
    await runner.cleanup()


def test_each_prebuilt_request_is_a_distinct_referral_with_its_own_idempotency_key() -> None:
    first = build_requests(0, 3, ["tok-a", "tok-b"])
    then = build_requests(3, 2, ["tok-a", "tok-b"])
    requests = first + then
    keys = [headers["Idempotency-Key"] for _, headers in requests]
    children = [json.loads(body)["child"] for body, _ in requests]
    assert keys == [f"bench-{n}" for n in range(5)]
    assert len({(c["first_name"], c["last_name"], c["birth_date"]) for c in children}) == 5
    assert [h["Authorization"] for _, h in requests] == [
        f"Bearer tok-{'ab'[n % 2]}" for n in range(5)
    ]


async def test_a_post_records_the_status_and_the_referral_id_or_the_retry_after(
    intake: tuple[FakeIntake, str],
) -> None:
    fake, url = intake
    (request,) = build_requests(7, 1, ["tok"])
    accepted, refused = Posted(due=time.monotonic()), Posted(due=time.monotonic())
    async with client(2) as http:
        await post(http, url, asyncio.Semaphore(2), accepted, request)
        fake.refuse = True
        await post(http, url, asyncio.Semaphore(2), refused, request)
    assert (accepted.status, accepted.retry_after) == (201, None)
    assert isinstance(accepted.referral_id, uuid.UUID)
    assert (refused.status, refused.referral_id, refused.retry_after) == (503, None, "5")
    assert accepted.done >= accepted.due
    body, headers, _ = fake.seen[0]
    assert body == json.loads(request[0])
    assert headers["Idempotency-Key"] == "bench-7"
    assert headers["Authorization"] == "Bearer tok"
    assert headers["Content-Type"] == "application/json"


async def test_a_post_without_an_answer_is_recorded_as_an_error() -> None:
    (request,) = build_requests(0, 1, ["tok"])
    slot = Posted(due=time.monotonic())
    async with client(1) as http:
        # A port nothing listens on: the connection is refused.
        url = f"http://127.0.0.1:{free_port()}/v1/referrals"
        await post(http, url, asyncio.Semaphore(1), slot, request)
    assert slot.status == -1
    assert slot.referral_id is None
    assert slot.done >= slot.due


async def test_requests_share_the_fixed_connections_and_wait_for_one_when_all_are_busy(
    intake: tuple[FakeIntake, str],
) -> None:
    fake, url = intake
    fake.delay_s = 0.02
    requests = build_requests(0, 12, ["tok"])
    due = time.monotonic()
    slots = [Posted(due=due) for _ in requests]
    gate = asyncio.Semaphore(3)
    async with client(3) as http:
        sent = zip(slots, requests, strict=True)
        await asyncio.gather(*(post(http, url, gate, slot, r) for slot, r in sent))
    assert [s.status for s in slots] == [201] * 12
    assert fake.most_busy == 3
    assert len({peer for _, _, peer in fake.seen}) == 3  # kept alive, reused
    # Four waves of three on three connections: the last answers count their wait.
    assert max(s.done - s.due for s in slots) >= 4 * fake.delay_s
