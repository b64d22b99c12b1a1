"""The restart rules with real processes: SIGKILL mid-publish, broker and database restarts.

These tests stop and start the machine's RabbitMQ application and PostgreSQL cluster, so
they run last (see the file name ordering in pytest's collection) and restore both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.test_backbone_flow import SCHOOL, eventually, referral_body, register_school

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def post_referrals(http: httpx.AsyncClient, stack: Any, count: int) -> list[str]:
    headers = stack.auth("institution", SCHOOL)

    async def one() -> str:
        r = await http.post(
            f"{stack.url('referral')}/v1/referrals", json=referral_body(), headers=headers
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def situations_count(stack: Any) -> int:
    conn = await asyncpg.connect(stack.dsn("parcours"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM situation_referrals"))
    finally:
        await conn.close()


async def pending_in_outbox(stack: Any, service: str) -> int:
    conn = await asyncpg.connect(stack.dsn(service))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM relais_outbox"))
    finally:
        await conn.close()


def all_under_review(
    http: httpx.AsyncClient, stack: Any, ids: list[str]
) -> Callable[[], Awaitable[bool]]:
    headers = stack.auth("institution", SCHOOL)

    async def check() -> bool:
        for rid in ids:
            r = await http.get(f"{stack.url('referral')}/v1/referrals/{rid}", headers=headers)
            if r.status_code != 200 or r.json()["status"] != "under_review":
                return False
        return True

    return check


async def test_relay_killed_between_commit_and_publish_loses_nothing_once_restarted(
    stack_factory: Any,
) -> None:
    # One message per relay batch widens the window between commit and publish.
    stack = await stack_factory(extra_env={"REFERRAL_OUTBOX_BATCH_SIZE": "1"})
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=20) as http:
        await register_school(http, stack)
        pending = 0
        for _ in range(5):
            ids += await post_referrals(http, stack, 40)
            stack.stack.processes["referral"].kill()  # SIGKILL, right after the commits
            pending = await pending_in_outbox(stack, "referral")
            if pending:
                break
            stack.stack.restart("referral")
        assert pending > 0, "the kill never landed between commit and publish"
        stack.stack.restart("referral")

        async def all_opened() -> bool:
            return await situations_count(stack) == len(ids)

        await eventually(all_opened, timeout=60)
        await eventually(all_under_review(http, stack, ids), timeout=60)
    await asyncio.sleep(1)
    # Re-published messages were de-duplicated: exactly one situation line per referral.
    assert await situations_count(stack) == len(ids)

    async def outbox_drained() -> bool:
        return await pending_in_outbox(stack, "referral") == 0

    await eventually(outbox_drained)


def _rabbitmqctl(*args: str) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([exe, "-q", *args], check=True, capture_output=True, timeout=120)


def _pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


async def _ready(http: httpx.AsyncClient, stack: Any, service: str) -> int:
    try:
        return (await http.get(f"{stack.url(service)}/ready")).status_code
    except httpx.HTTPError:
        return 0


async def test_consumers_resume_by_themselves_after_the_broker_restarts(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    async with httpx.AsyncClient(timeout=20) as http:
        await register_school(http, stack)
        before = await post_referrals(http, stack, 1)
        await eventually(all_under_review(http, stack, before))
        for _ in range(2):  # twice in a row: the second reconnect must work too
            await asyncio.to_thread(_rabbitmqctl, "stop_app")
            try:

                async def not_ready() -> bool:
                    return await _ready(http, stack, "parcours") == 503

                await eventually(not_ready, timeout=20)
                # The referral is accepted while the broker is down: the outbox keeps it.
                during = await post_referrals(http, stack, 2)
            finally:
                await asyncio.to_thread(_rabbitmqctl, "start_app")
            await eventually(all_under_review(http, stack, during), timeout=90)
            after = await post_referrals(http, stack, 2)
            await eventually(all_under_review(http, stack, after), timeout=60)


async def test_consumers_resume_by_themselves_after_the_database_restarts(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    async with httpx.AsyncClient(timeout=20) as http:
        await register_school(http, stack)
        before = await post_referrals(http, stack, 1)
        await eventually(all_under_review(http, stack, before))
        await asyncio.to_thread(_pg_cluster, "restart")

        async def referral_ready() -> bool:
            return await _ready(http, stack, "referral") == 200

        await eventually(referral_ready, timeout=60)
        after = await post_referrals(http, stack, 3)
        await eventually(all_under_review(http, stack, after), timeout=90)
        assert await situations_count(stack) == 4
