"""Every service, as a real process, answers 503 while PostgreSQL cannot be reached."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from relais_runtime.testing import ProxyThread

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

#: One authenticated read per service, each needing its database.
READS = [
    ("referral", "/v1/referrals", "institution", "ecole-jules-ferry-rouen"),
    ("parcours", "/v1/situations", "coordinator", "pre-76540-coordination"),
    ("notifications", "/v1/feed", "coordinator", "pre-76540-coordination"),
    ("reporting", "/v1/indicators?school_year=2026-2027", "analyst", "region-normandie"),
]


def log_lines(stack: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stack.logs().splitlines() if line.startswith("{")]


async def test_every_service_answers_503_while_its_database_is_unreachable_then_recovers(
    stack_factory: Any,
) -> None:
    proxy = ProxyThread()  # its own loop: this one blocks while the stack starts
    proxy.start()
    try:
        stack = await stack_factory(pg_base=f"postgresql://postgres@127.0.0.1:{proxy.port}")
        proxy.cut()
        async with httpx.AsyncClient(timeout=20) as http:
            answers = {
                service: await http.get(
                    f"{stack.url(service)}{path}", headers=stack.auth(role, org)
                )
                for service, path, role, org in READS
            }
            for service, r in answers.items():
                assert r.status_code == 503, (service, r.text)
                assert r.headers["Retry-After"] == "5", service
                assert r.json()["code"] == "database_unavailable", service

            failures = [
                (line["service"], line.get("path"))
                for line in log_lines(stack)
                if line["event"] == "request failed: dependency unavailable"
            ]
            assert sorted(failures) == sorted(
                (service, path.partition("?")[0]) for service, path, _, _ in READS
            )  # one line per failure
            assert not any(
                line["event"] in ("unhandled error", "Exception in ASGI application\n")
                for line in log_lines(stack)
            )

            proxy.restore()
            for service, path, role, org in READS:
                for _ in range(100):
                    r = await http.get(f"{stack.url(service)}{path}", headers=stack.auth(role, org))
                    if r.status_code != 503:
                        break
                    await asyncio.sleep(0.1)
                assert r.status_code == 200, (service, r.text)
    finally:
        proxy.stop()
